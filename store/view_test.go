package store

import (
	"testing"
)

func TestParseSelect(t *testing.T) {
	tests := []struct {
		query   string
		aliases []string          // alias of each item ("*"/"t.*" for stars)
		tables  map[string]string // alias -> table
	}{
		{
			query:   `SELECT p.id, p.title AS headline, count(*) n, x FROM posts p LEFT JOIN users AS u ON u.id = p.author WHERE 1 GROUP BY p.id`,
			aliases: []string{"id", "headline", "n", "x"},
			tables:  map[string]string{"posts": "posts", "p": "posts", "users": "users", "u": "users"},
		},
		{
			query:   "WITH c AS (SELECT id FROM a) SELECT DISTINCT c.*, `b`.\"v\" FROM c, b ORDER BY 1",
			aliases: []string{"c.*", "v"},
			tables:  map[string]string{"c": "c", "b": "b"},
		},
		{
			query:   `SELECT (SELECT max(id) FROM z) AS m, CASE WHEN a THEN 1 ELSE 0 END, * FROM (SELECT 1) s JOIN t ON t.x = s.y`,
			aliases: []string{"m", "", "*"},
			tables:  map[string]string{"t": "t"},
		},
	}
	for _, tc := range tests {
		sel := parseSelect(tc.query)
		if sel == nil {
			t.Errorf("parseSelect(%q) = nil", tc.query)
			continue
		}
		var got []string
		for _, it := range sel.items {
			switch {
			case it.star == "*":
				got = append(got, "*")
			case it.star != "":
				got = append(got, it.star+".*")
			default:
				got = append(got, it.alias)
			}
		}
		if len(got) != len(tc.aliases) {
			t.Errorf("parseSelect(%q) items = %q, want %q", tc.query, got, tc.aliases)
			continue
		}
		for i := range got {
			if got[i] != tc.aliases[i] {
				t.Errorf("parseSelect(%q) items = %q, want %q", tc.query, got, tc.aliases)
				break
			}
		}
		for a, tb := range tc.tables {
			if sel.tables[a] != tb {
				t.Errorf("parseSelect(%q) tables = %v, want %v", tc.query, sel.tables, tc.tables)
				break
			}
		}
		if len(sel.tables) != len(tc.tables) {
			t.Errorf("parseSelect(%q) tables = %v, want %v", tc.query, sel.tables, tc.tables)
		}
	}
}

func TestCheckSelect(t *testing.T) {
	for q, ok := range map[string]bool{
		"SELECT id FROM t;":                      true,
		"  with x as (select 1) select * from x": true,
		"DELETE FROM t":                          false,
		"SELECT 1; SELECT 2":                     false,
		"SELECT ';' AS id":                       true,
		"SELECT 'unterminated":                   false,
		"":                                       false,
	} {
		if _, err := checkSelect(q); (err == nil) != ok {
			t.Errorf("checkSelect(%q) = %v, want ok=%v", q, err, ok)
		}
	}
}

func FuzzParseSelect(f *testing.F) {
	f.Add(`SELECT p.id, count(*) AS n FROM posts p JOIN users u ON u.id = p.a GROUP BY 1`)
	f.Add("WITH a AS (SELECT 1) SELECT * FROM a, (SELECT 2) b")
	f.Fuzz(func(t *testing.T, q string) {
		parseSelect(q) // must not panic
	})
}
