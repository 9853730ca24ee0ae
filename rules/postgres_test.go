package rules

import (
	"context"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/filter"
	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/postgres"
)

// TestPostgres runs the filter compiler's Postgres dialect against a real
// PostgreSQL (an org schema of store/postgres, so the tables have the
// PostgreSQL column types and the support functions exist): the golden
// SQL of every golden case (testdata/postgres), and every execution case
// of exec_test.go and TestOrderBy, read from that file's source so both
// engines always run the same cases with the same expected results.
func TestPostgres(t *testing.T) {
	url := testsrv.PostgresURL(t)
	schema := newSchema()
	db := openPG(t, url, schema)
	c := &Compiler{Dialect: Postgres, Schema: schema, Now: newCompiler(schema).Now}
	t.Run("Golden", func(t *testing.T) { pgGolden(t, db, c, schema) })
	t.Run("Exec", func(t *testing.T) { pgExec(t, db, c, schema) })
	t.Run("OrderBy", func(t *testing.T) { pgOrderBy(t, db, c, schema) })
	t.Run("CreateRule", func(t *testing.T) { pgCreateRule(t, db, c, schema) })
}

// openPG creates the test collections (replacing the bootstrap's users
// collection) and fixtures in a fresh org.
func openPG(t *testing.T, url string, schema testSchema) store.DB {
	t.Helper()
	s, err := postgres.Open(postgres.Config{URL: url, SchemaPrefix: "rules_"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ctx := context.Background()
	db, err := s.Acquire(ctx, "fixtures")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Release)
	tx, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	d := db.Dialect()
	mirror, err := store.FindCollection(ctx, tx, base.UsersCollection)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteCollection(ctx, tx, d, mirror); err != nil {
		t.Fatal(err)
	}
	for _, c := range schema {
		if err := store.CreateCollection(ctx, tx, d, c.Clone()); err != nil {
			t.Fatalf("create %s: %v", c.Name, err)
		}
		for _, row := range fixtures[c.Name] {
			var names, marks []string
			var args []any
			for _, f := range c.Fields {
				v, ok := row[f.Name]
				if !ok {
					continue
				}
				if f.Type == base.FieldBool {
					v = v != 0
				}
				names = append(names, d.Quote(f.Name))
				marks = append(marks, "?")
				args = append(args, v)
			}
			q := "INSERT INTO " + d.Quote(c.Name) + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(marks, ", ") + ")"
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				t.Fatalf("insert %s: %v", c.Name, err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	return db
}

func pgIDs(t *testing.T, db store.DB, coll, where, order string, args []any) string {
	t.Helper()
	if order == "" {
		order = `"t"."id"`
	}
	q := `SELECT "t"."id" FROM "` + coll + `" AS "t" WHERE ` + where + ` ORDER BY ` + order
	rows, err := db.QueryContext(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("query: %v\n%s\nargs %v", err, q, args)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("query: %v\n%s\nargs %v", err, q, args)
	}
	return strings.Join(ids, " ")
}

func pgGolden(t *testing.T, db store.DB, c *Compiler, schema testSchema) {
	posts := schema.Collection("posts")
	for _, tt := range goldenCases {
		t.Run(tt.name, func(t *testing.T) {
			req, opt := tt.req, tt.opt
			if tt.opt == (Options{}) && tt.name != "email_visibility" && tt.name != "sort_email" {
				opt = rule
			}
			var got strings.Builder
			var sqlText string
			var args []any
			var err error
			if tt.filter != "" {
				got.WriteString("filter: " + tt.filter + "\n")
				e, perr := filter.Parse(tt.filter)
				if perr != nil {
					t.Fatal(perr)
				}
				sqlText, args, err = c.Where(posts, "t", e, req, opt)
			} else {
				got.WriteString("sort: " + tt.sort + "\n")
				items, perr := filter.ParseSort(tt.sort)
				if perr != nil {
					t.Fatal(perr)
				}
				sqlText, args, err = c.OrderBy(posts, "t", items, req, opt)
			}
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			optJSON, _ := json.Marshal(opt)
			got.WriteString("options: " + string(optJSON) + "\n")
			got.WriteString("sql: " + sqlText + "\n")
			argsJSON, _ := json.Marshal(args)
			got.WriteString("args: " + string(argsJSON) + "\n")
			if tt.filter != "" {
				pgIDs(t, db, "posts", sqlText, "", args)
			} else {
				pgIDs(t, db, "posts", "1=1", sqlText, args)
			}
			path := filepath.Join("testdata", "postgres", tt.name+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got.String()), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create)", err)
			}
			if got.String() != string(want) {
				t.Errorf("%s mismatch (run with -update if intended)\ngot:\n%s\nwant:\n%s", path, got.String(), want)
			}
		})
	}
}

// sourceCase is an execution case read from exec_test.go.
type sourceCase struct {
	coll string
	execCase
	sort string // TestOrderBy cases
}

// readExecCases reads the runExec cases and TestOrderBy's cases from
// exec_test.go's source.
func readExecCases(t *testing.T) []sourceCase {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "exec_test.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	strs := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == 1 && len(as.Rhs) == 1 {
			if id, ok := as.Lhs[0].(*ast.Ident); ok {
				if s, ok := strLit(as.Rhs[0], nil); ok {
					strs[id.Name] = s
				}
			}
		}
		return true
	})
	reqs := map[string]*Request{"guest": guest, "alice": alice, "claims": claims, "bodyReq": bodyReq}
	opts := map[string]Options{"rule": rule, "user": user, "su": su}
	var out []sourceCase
	bad := func(n ast.Node, what string) {
		t.Errorf("exec_test.go:%d: cannot read %s; teach readExecCases", fset.Position(n.Pos()).Line, what)
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			id, ok := n.Fun.(*ast.Ident)
			if !ok || id.Name != "runExec" || len(n.Args) != 3 {
				return true
			}
			coll, ok := strLit(n.Args[1], strs)
			lit, ok2 := n.Args[2].(*ast.CompositeLit)
			if !ok || !ok2 {
				bad(n, "a runExec call")
				return true
			}
			for _, el := range lit.Elts {
				cl, ok := el.(*ast.CompositeLit)
				if !ok {
					bad(el, "a case")
					continue
				}
				sc := sourceCase{coll: coll}
				for _, kv := range cl.Elts {
					kv, ok := kv.(*ast.KeyValueExpr)
					if !ok {
						bad(cl, "a positional case")
						break
					}
					key := kv.Key.(*ast.Ident).Name
					switch key {
					case "filter", "want":
						s, ok := strLit(kv.Value, strs)
						if !ok {
							bad(kv, key)
						}
						if key == "filter" {
							sc.filter = s
						} else {
							sc.want = s
						}
					case "req":
						r, ok := reqExpr(kv.Value, reqs)
						if !ok {
							bad(kv, "req")
						}
						sc.req = r
					case "opt":
						o, ok := optExpr(kv.Value, opts)
						if !ok {
							bad(kv, "opt")
						}
						sc.opt = o
					default:
						bad(kv, key)
					}
				}
				out = append(out, sc)
			}
		case *ast.FuncDecl:
			if n.Name.Name != "TestOrderBy" {
				return true
			}
			ast.Inspect(n.Body, func(m ast.Node) bool {
				cl, ok := m.(*ast.CompositeLit)
				if !ok || len(cl.Elts) != 3 {
					return true
				}
				sort, ok1 := strLit(cl.Elts[0], strs)
				want, ok3 := strLit(cl.Elts[2], strs)
				o, ok2 := optExpr(cl.Elts[1], opts)
				if ok1 && ok2 && ok3 {
					out = append(out, sourceCase{coll: "posts", sort: sort, execCase: execCase{opt: o, want: want}})
				}
				return false
			})
			return false
		}
		return true
	})
	if len(out) < 50 {
		t.Fatalf("read only %d cases from exec_test.go", len(out))
	}
	return out
}

func strLit(e ast.Expr, vars map[string]string) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.Ident:
		s, ok := vars[e.Name]
		return s, ok
	}
	return "", false
}

func reqExpr(e ast.Expr, reqs map[string]*Request) (*Request, bool) {
	switch e := e.(type) {
	case *ast.Ident:
		r, ok := reqs[e.Name]
		return r, ok
	case *ast.UnaryExpr:
		cl, ok := e.X.(*ast.CompositeLit)
		if !ok || e.Op != token.AND {
			return nil, false
		}
		r := &Request{}
		for _, kv := range cl.Elts {
			kv, ok := kv.(*ast.KeyValueExpr)
			if !ok {
				return nil, false
			}
			s, ok := strLit(kv.Value, nil)
			if !ok {
				return nil, false
			}
			switch kv.Key.(*ast.Ident).Name {
			case "Context":
				r.Context = s
			case "Method":
				r.Method = s
			default:
				return nil, false
			}
		}
		return r, true
	}
	return nil, false
}

func optExpr(e ast.Expr, opts map[string]Options) (Options, bool) {
	switch e := e.(type) {
	case *ast.Ident:
		o, ok := opts[e.Name]
		return o, ok
	case *ast.CompositeLit:
		if id, ok := e.Type.(*ast.Ident); !ok || id.Name != "Options" {
			return Options{}, false
		}
		var o Options
		for _, kv := range e.Elts {
			kv, ok := kv.(*ast.KeyValueExpr)
			if !ok {
				return Options{}, false
			}
			v, ok := kv.Value.(*ast.Ident)
			if !ok || v.Name != "true" && v.Name != "false" {
				return Options{}, false
			}
			b := v.Name == "true"
			switch kv.Key.(*ast.Ident).Name {
			case "AllowHidden":
				o.AllowHidden = b
			case "EnforceRelatedRules":
				o.EnforceRelatedRules = b
			case "Superuser":
				o.Superuser = b
			default:
				return Options{}, false
			}
		}
		return o, true
	}
	return Options{}, false
}

// pgKnownDifferences are execution cases whose PostgreSQL result differs
// from SQLite's by design (see the Postgres documentation); each maps to
// the PostgreSQL result.
var pgKnownDifferences = map[string]string{}

func pgExec(t *testing.T, db store.DB, c *Compiler, schema testSchema) {
	for _, tc := range readExecCases(t) {
		if tc.sort != "" {
			continue
		}
		t.Run(tc.coll+"/"+tc.filter, func(t *testing.T) {
			e, err := filter.Parse(tc.filter)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			req, opt := tc.req, tc.opt
			if req == nil {
				req = guest
			}
			if opt == (Options{}) {
				opt = rule
			}
			where, args, err := c.Where(schema.Collection(tc.coll), "t", e, req, opt)
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			want := tc.want
			if w, ok := pgKnownDifferences[tc.filter]; ok {
				want = w
			}
			if got := pgIDs(t, db, tc.coll, where, "", args); got != want {
				t.Errorf("got [%s], want [%s]\nsql: %s\nargs: %v", got, want, where, args)
			}
		})
	}
}

func pgOrderBy(t *testing.T, db store.DB, c *Compiler, schema testSchema) {
	posts := schema.Collection("posts")
	for _, tc := range readExecCases(t) {
		if tc.sort == "" {
			continue
		}
		t.Run(tc.sort, func(t *testing.T) {
			items, err := filter.ParseSort(tc.sort)
			if err != nil {
				t.Fatal(err)
			}
			order, args, err := c.OrderBy(posts, "t", items, guest, tc.opt)
			if err != nil {
				t.Fatalf("OrderBy: %v", err)
			}
			if got := pgIDs(t, db, "posts", "1=1", order, args); got != tc.want {
				t.Errorf("got [%s], want [%s]\norder: %s", got, tc.want, order)
			}
		})
	}
}

// pgCreateRule is TestCreateRuleOnWouldBeRecord on PostgreSQL: the rule
// runs over a one-row derived table of bound values, exactly as the
// records layer checks a create rule (untyped parameters become text).
func pgCreateRule(t *testing.T, db store.DB, c *Compiler, schema testSchema) {
	e, err := filter.Parse(`@request.auth.id != "" && author = @request.auth.id && (tags:each ?= "a" || author.team.name = "Red")`)
	if err != nil {
		t.Fatal(err)
	}
	where, args, err := c.Where(schema.Collection("posts"), "t", e, alice, rule)
	if err != nil {
		t.Fatal(err)
	}
	check := func(author, tags string, want bool) {
		t.Helper()
		q := `SELECT COUNT(*) FROM (SELECT ? AS "id", ? AS "author", ? AS "tags") AS "t" WHERE ` + where
		var n int
		if err := db.QueryRowContext(context.Background(), q, append([]any{"new", author, tags}, args...)...).Scan(&n); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		if (n == 1) != want {
			t.Errorf("author=%s tags=%s: got %v, want %v", author, tags, n == 1, want)
		}
	}
	check("u1", `["b"]`, true)
	check("u2", `["a"]`, false)
	check("u1", `[]`, true)
}
