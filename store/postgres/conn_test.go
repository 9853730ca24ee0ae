package postgres

import (
	"slices"
	"testing"
)

func TestRebind(t *testing.T) {
	tests := []struct{ in, want string }{
		{`SELECT * FROM t WHERE a = ? AND b = ?`, `SELECT * FROM t WHERE a = $1 AND b = $2`},
		{`SELECT '?', "?x", ? -- ?` + "\n" + `/* ? */ , ?`, `SELECT '?', "?x", $1 -- ?` + "\n" + `/* ? */ , $2`},
		{`SELECT 'it''s ?', E'\'?', $$ ? $$, $tag$ ? $tag$, ?`, `SELECT 'it''s ?', E'\'?', $$ ? $$, $tag$ ? $tag$, $1`},
		{`x IS NOT ? AND y IS ? AND z IS NULL AND w IS NOT NULL AND v IS NOT DISTINCT FROM ?`,
			`x IS DISTINCT FROM $1 AND y IS NOT DISTINCT FROM $2 AND z IS NULL AND w IS NOT NULL AND v IS NOT DISTINCT FROM $3`},
		{`'' IS NOT "t"."title" AND ("a" is true) AND this IS x1`, `'' IS DISTINCT FROM "t"."title" AND ("a" is true) AND this IS NOT DISTINCT FROM x1`},
		{`COMMENT ON SCHEMA "s" IS 'base:1'`, `COMMENT ON SCHEMA "s" IS 'base:1'`},
		{`SELECT "IS" FROM island`, `SELECT "IS" FROM island`},
		{`ORDER BY a ASC, b DESC, c DESC NULLS FIRST, ascii(d) asc`, `ORDER BY a ASC NULLS FIRST, b DESC NULLS LAST, c DESC NULLS FIRST, ascii(d) asc NULLS FIRST`},
	}
	for _, tt := range tests {
		if got := rebind(tt.in, 3); got != tt.want {
			t.Errorf("rebind(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func TestKeyColumns(t *testing.T) {
	tests := []struct {
		detail string
		want   []string
	}{
		{`Key (slug)=(a) already exists.`, []string{"slug"}},
		{`Key (title, views)=(t, 1) already exists.`, []string{"title", "views"}},
		{`Key ("Weird ""Name""", id)=(x, y) already exists.`, []string{`Weird "Name"`, "id"}},
		{`Key (lower(title))=(t) already exists.`, nil},
		{`something else`, nil},
	}
	for _, tt := range tests {
		if got := keyColumns(tt.detail); !slices.Equal(got, tt.want) {
			t.Errorf("keyColumns(%q) = %q, want %q", tt.detail, got, tt.want)
		}
	}
}

func TestParseURL(t *testing.T) {
	cfg, err := ParseURL("postgres://u:p@h:5432/db?sslmode=disable&base_max_conns=8&base_search_path=session&base_schema_prefix=x_")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxConns != 8 || cfg.SearchPath != SearchPathSession || cfg.SchemaPrefix != "x_" || cfg.URL != "postgres://u:p@h:5432/db?sslmode=disable" {
		t.Errorf("cfg = %+v", cfg)
	}
	for _, bad := range []string{"mysql://x", "postgres://h/db?base_nope=1", "postgres://h/db?base_max_conns=0"} {
		if _, err := ParseURL(bad); err == nil {
			t.Errorf("ParseURL(%q) accepted", bad)
		}
	}
}
