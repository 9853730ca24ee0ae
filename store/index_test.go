package store

import (
	"errors"
	"slices"
	"testing"
)

func TestParseIndex(t *testing.T) {
	tests := []struct {
		in     string
		want   Index
		sqlite string
	}{
		{
			in:     "CREATE UNIQUE INDEX `idx_x` ON `posts` (`slug`)",
			want:   Index{Name: "idx_x", Unique: true, Table: "posts", Columns: []IndexColumn{{Name: "slug"}}},
			sqlite: `CREATE UNIQUE INDEX "idx_x" ON "posts" ("slug")`,
		},
		{
			in:     "create index if not exists idx_a on main.posts (title collate nocase desc, `views` ASC);",
			want:   Index{Name: "idx_a", Table: "posts", Columns: []IndexColumn{{Name: "title", Collate: "nocase", Sort: "DESC"}, {Name: "views", Sort: "ASC"}}},
			sqlite: `CREATE INDEX "idx_a" ON "posts" ("title" COLLATE nocase DESC, "views" ASC)`,
		},
		{
			in:     "CREATE UNIQUE INDEX `idx_email` ON `users` (`email`) WHERE `email` != ''",
			want:   Index{Name: "idx_email", Unique: true, Table: "users", Columns: []IndexColumn{{Name: "email"}}, Where: "`email` != ''"},
			sqlite: `CREATE UNIQUE INDEX "idx_email" ON "users" ("email") WHERE "email" != ''`,
		},
		{
			in:     `CREATE INDEX "i" ON "t" (lower("a"), json_extract([b], '$.x') DESC) WHERE a > 1 AND (b IS NOT NULL)`,
			want:   Index{Name: "i", Table: "t", Columns: []IndexColumn{{Name: `lower("a")`, Expr: true}, {Name: `json_extract([b], '$.x')`, Expr: true, Sort: "DESC"}}, Where: `a > 1 AND (b IS NOT NULL)`},
			sqlite: `CREATE INDEX "i" ON "t" ((lower("a")), (json_extract("b", '$.x')) DESC) WHERE a > 1 AND (b IS NOT NULL)`,
		},
		{
			in:     "CREATE INDEX `we\"ird` ON `t` (`co``l`)",
			want:   Index{Name: `we"ird`, Table: "t", Columns: []IndexColumn{{Name: "co`l"}}},
			sqlite: `CREATE INDEX "we""ird" ON "t" ("co` + "`" + `l")`,
		},
	}
	for _, tc := range tests {
		got, err := ParseIndex(tc.in)
		if err != nil {
			t.Errorf("ParseIndex(%q): %v", tc.in, err)
			continue
		}
		if got.Name != tc.want.Name || got.Unique != tc.want.Unique || got.Table != tc.want.Table || got.Where != tc.want.Where {
			t.Errorf("ParseIndex(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
		if len(got.Columns) != len(tc.want.Columns) {
			t.Errorf("ParseIndex(%q) columns = %+v, want %+v", tc.in, got.Columns, tc.want.Columns)
		} else {
			for i, c := range got.Columns {
				w := tc.want.Columns[i]
				if c.Name != w.Name || c.Expr != w.Expr || c.Collate != w.Collate || c.Sort != w.Sort {
					t.Errorf("ParseIndex(%q) column %d = %+v, want %+v", tc.in, i, c, w)
				}
			}
		}
		if s := got.SQL(SQLite, got.Table); s != tc.sqlite {
			t.Errorf("SQL(%q) =\n  %s\nwant\n  %s", tc.in, s, tc.sqlite)
		}
	}
}

func TestParseIndexErrors(t *testing.T) {
	for _, in := range []string{
		"",
		"CREATE TABLE x (a)",
		"CREATE INDEX",
		"CREATE INDEX i ON",
		"CREATE INDEX i ON t",
		"CREATE INDEX i ON t (a",
		"CREATE INDEX i ON t ()",
		"CREATE INDEX i ON t (a) junk",
		"CREATE INDEX i ON t (a) WHERE",
		"CREATE INDEX `i ON t (a)",
	} {
		if ix, err := ParseIndex(in); err == nil {
			t.Errorf("ParseIndex(%q) = %+v, want error", in, ix)
		}
	}
}

func FuzzParseIndex(f *testing.F) {
	f.Add("CREATE UNIQUE INDEX `idx_x` ON `posts` (`slug`)")
	f.Add("CREATE INDEX i ON t (lower(a) COLLATE nocase DESC, b) WHERE a != '' -- c")
	f.Add(`CREATE INDEX "a""b" ON [t] ((a+b)) WHERE /* x */ 1`)
	f.Fuzz(func(t *testing.T, s string) {
		ix, err := ParseIndex(s)
		if err != nil {
			return
		}
		if ix.Name == "" || ix.Table == "" || len(ix.Columns) == 0 {
			t.Fatalf("ParseIndex(%q) accepted an incomplete index: %+v", s, ix)
		}
		// Rendering is stable: parsing the rendered SQL gives the same SQL.
		out := ix.SQL(SQLite, ix.Table)
		ix2, err := ParseIndex(out)
		if err != nil {
			t.Fatalf("rendered %q does not parse: %v", out, err)
		}
		if out2 := ix2.SQL(SQLite, ix2.Table); out2 != out {
			t.Fatalf("render not stable:\n%s\n%s", out, out2)
		}
	})
}

func TestUniqueColumns(t *testing.T) {
	tests := []struct {
		err    error
		unique bool
		cols   []string
	}{
		{errors.New("constraint failed: UNIQUE constraint failed: posts.slug (2067)"), true, []string{"slug"}},
		{errors.New("UNIQUE constraint failed: posts.slug, posts.x"), true, []string{"slug", "x"}},
		{errors.New("commit: constraint failed: UNIQUE constraint failed: posts.id (1555)"), true, []string{"id"}},
		{errors.New("UNIQUE constraint failed: index 'idx_lower'"), true, nil},
		{errors.New("NOT NULL constraint failed: posts.x"), false, nil},
		{nil, false, nil},
	}
	for _, tc := range tests {
		if got := SQLite.IsUniqueViolation(tc.err); got != tc.unique {
			t.Errorf("IsUniqueViolation(%v) = %v", tc.err, got)
		}
		if got := SQLite.UniqueColumns(tc.err); !slices.Equal(got, tc.cols) {
			t.Errorf("UniqueColumns(%v) = %q, want %q", tc.err, got, tc.cols)
		}
	}
}
