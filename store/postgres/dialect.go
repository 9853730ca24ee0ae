package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hanzoai/base/store"
	"github.com/jackc/pgx/v5/pgconn"
)

// Dialect is the PostgreSQL flavour of store.Dialect.
var Dialect PGDialect

var (
	_ store.SchemaDialect = Dialect
	_ store.IndexLister   = Dialect
)

// PGDialect is the SQL flavour of PostgreSQL. Column types of the storage
// conventions:
//
//	text    TEXT NOT NULL DEFAULT ''
//	number  DOUBLE PRECISION NOT NULL DEFAULT 0
//	bool    BOOLEAN NOT NULL DEFAULT FALSE
//	list    JSON NOT NULL DEFAULT '[]'
//	json    JSON DEFAULT NULL
//	geo     JSON NOT NULL DEFAULT '{"lon":0,"lat":0}'
//
// JSON values use the json type, not jsonb: json keeps the stored text
// byte for byte (key order, spacing), so every engine returns the same
// documents; expressions that need jsonb operators (the filter compiler)
// cast.
type PGDialect struct{}

// Name is "postgres".
func (PGDialect) Name() string { return "postgres" }

// Quote quotes ident with double quotes, doubling embedded quotes.
func (PGDialect) Quote(ident string) string { return quoteIdent(ident) }

// IsUniqueViolation reports whether err is a unique_violation (23505).
func (PGDialect) IsUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

// UniqueColumns returns the columns of a unique violation, read from the
// error detail "Key (a, b)=(...) already exists."; nil when err is none or
// the index is on expressions.
func (d PGDialect) UniqueColumns(err error) []string {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return nil
	}
	return keyColumns(pgErr.Detail)
}

// keyColumns parses the column list of "Key (a, "B c")=(...) ...".
func keyColumns(detail string) []string {
	rest, ok := strings.CutPrefix(detail, "Key (")
	if !ok {
		return nil
	}
	var cols []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		switch {
		case quoted && c == '"':
			if i+1 < len(rest) && rest[i+1] == '"' {
				cur.WriteByte('"')
				i++
				continue
			}
			quoted = false
		case quoted:
			cur.WriteByte(c)
		case c == '"':
			quoted = true
		case c == ',' || c == ')':
			name := strings.TrimSpace(cur.String())
			if name == "" {
				return nil
			}
			cols = append(cols, name)
			cur.Reset()
			if c == ')' {
				if !strings.HasPrefix(rest[i:], ")=(") {
					return nil
				}
				return cols
			}
		case c == ' ' && cur.Len() == 0:
		case c == '_' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '$' || c >= 0x80:
			cur.WriteByte(c)
		default:
			return nil // an expression
		}
	}
	return nil
}

// ColumnDef implements store.SchemaDialect.
func (PGDialect) ColumnDef(s store.Storage) string {
	switch s {
	case store.StorageNumber:
		return "DOUBLE PRECISION NOT NULL DEFAULT 0"
	case store.StorageBool:
		return "BOOLEAN NOT NULL DEFAULT FALSE"
	case store.StorageList:
		return "JSON NOT NULL DEFAULT '[]'"
	case store.StorageJSON:
		return "JSON DEFAULT NULL"
	case store.StorageGeoPoint:
		return `JSON NOT NULL DEFAULT '{"lon":0,"lat":0}'`
	}
	return "TEXT NOT NULL DEFAULT ''"
}

// TypedParam implements store.ParamTyper.
func (PGDialect) TypedParam(s store.Storage) string { return "CAST(? AS " + sqlType(s) + ")" }

func sqlType(s store.Storage) string {
	switch s {
	case store.StorageNumber:
		return "DOUBLE PRECISION"
	case store.StorageBool:
		return "BOOLEAN"
	case store.StorageList, store.StorageJSON, store.StorageGeoPoint:
		return "JSON"
	}
	return "TEXT"
}

// ConvertExpr implements store.SchemaDialect with the same results as
// store.SQLite's conversions, value for value (see the tests): JSON
// scalars unwrap, lists keep their first element, text parses as a
// number by its leading numeric prefix, and nothing fails on any stored
// value. It relies on base_json(text), created in every org schema.
func (PGDialect) ConvertExpr(from, to store.Storage, x string) string {
	if from == to {
		return x
	}
	return "CAST(" + convert(from, to, x) + " AS " + sqlType(to) + ")"
}

// numberPrefix extracts the leading number of text as SQLite's CAST(x AS
// NUMERIC) reads it.
const numberPrefix = `'^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?'`

func convert(from, to store.Storage, x string) string {
	// first is a list's first element as text (strings unquoted, other
	// JSON as JSON text); a non-array value is its JSON text.
	first := func(x string) string {
		return "(CASE json_typeof(" + x + ") WHEN 'array' THEN (" + x + ")->>0 ELSE (" + x + ")::text END)"
	}
	// scalar unwraps a JSON scalar to text (numbers normalized, booleans
	// 1/0 as SQLite's json_extract returns them); objects and arrays stay
	// JSON text; JSON null is NULL.
	scalar := func(x string) string {
		return "(CASE json_typeof(" + x + ") WHEN 'string' THEN (" + x + ")#>>'{}' WHEN 'number' THEN CAST(CAST((" + x + ")#>>'{}' AS DOUBLE PRECISION) AS TEXT) WHEN 'boolean' THEN (CASE WHEN (" + x + ")::text = 'true' THEN '1' ELSE '0' END) WHEN 'null' THEN NULL ELSE (" + x + ")::text END)"
	}
	num := func(v string) string {
		return "COALESCE(CAST(substring(trim(" + v + ") from " + numberPrefix + ") AS DOUBLE PRECISION), 0)"
	}
	truthy := func(v string) string {
		return "(lower(trim(COALESCE(" + v + ", ''))) IN ('1', 'true', 't', 'yes', 'on'))"
	}
	geoDefault := `'{"lon":0,"lat":0}'`
	switch to {
	case store.StorageText:
		switch from {
		case store.StorageBool:
			return "(CASE WHEN " + x + " THEN 'true' ELSE 'false' END)"
		case store.StorageList:
			return "COALESCE(" + first(x) + ", '')"
		case store.StorageJSON:
			return "COALESCE(" + scalar(x) + ", '')"
		}
		return "COALESCE(CAST(" + x + " AS TEXT), '')"
	case store.StorageNumber:
		switch from {
		case store.StorageBool:
			return "(CASE WHEN " + x + " THEN 1 ELSE 0 END)"
		case store.StorageGeoPoint:
			return "0"
		case store.StorageList:
			return num(first(x))
		case store.StorageJSON:
			return num(scalar(x))
		}
		return num(x)
	case store.StorageBool:
		switch from {
		case store.StorageGeoPoint:
			return "FALSE"
		case store.StorageNumber:
			return "(COALESCE(" + x + ", 0) != 0)"
		case store.StorageList:
			return truthy(first(x))
		case store.StorageJSON:
			return truthy(scalar(x))
		}
		return truthy(x)
	case store.StorageList:
		switch from {
		case store.StorageText:
			return "(CASE WHEN COALESCE(" + x + ", '') = '' THEN '[]'::json ELSE json_build_array(" + x + ") END)"
		case store.StorageNumber:
			return "json_build_array(" + x + ")"
		case store.StorageBool:
			return "json_build_array(CASE WHEN " + x + " THEN 'true' ELSE 'false' END)"
		case store.StorageJSON:
			return "(CASE json_typeof(" + x + ") WHEN 'array' THEN " + x +
				" WHEN 'object' THEN ('[' || (" + x + ")::text || ']')::json" +
				" WHEN 'string' THEN ('[' || (" + x + ")::text || ']')::json" +
				" WHEN 'number' THEN ('[' || (" + x + ")::text || ']')::json" +
				" WHEN 'boolean' THEN (CASE WHEN (" + x + ")::text = 'true' THEN '[1]' ELSE '[0]' END)::json" +
				" ELSE '[]'::json END)"
		}
		return "'[]'::json"
	case store.StorageJSON:
		switch from {
		case store.StorageText:
			return "(CASE WHEN COALESCE(" + x + ", '') = '' THEN NULL ELSE COALESCE(base_json(" + x + "), to_json(" + x + ")) END)"
		case store.StorageNumber:
			return "to_json(" + x + ")"
		case store.StorageBool:
			return "(CASE WHEN " + x + " THEN 'true' ELSE 'false' END)::json"
		}
		return x
	case store.StorageGeoPoint:
		var j string
		switch from {
		case store.StorageText:
			j = "base_json(" + x + ")"
		case store.StorageJSON:
			j = x
		default:
			return geoDefault
		}
		return "(CASE WHEN json_typeof(" + j + ") = 'object' AND json_typeof((" + j + ")->'lon') = 'number' AND json_typeof((" + j + ")->'lat') = 'number'" +
			` THEN ('{"lon":' || ((` + j + `)->>'lon') || ',"lat":' || ((` + j + `)->>'lat') || '}')::json ELSE ` + geoDefault + "::json END)"
	}
	return x
}

// TableIndexes implements store.IndexLister: the indexes of table in the
// current schema that back no constraint.
func (PGDialect) TableIndexes(ctx context.Context, q store.Querier, table string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT i.relname FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_class t ON t.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = current_schema() AND t.relname = ?
		AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
		ORDER BY i.relname`, table)
	if err != nil {
		return nil, fmt.Errorf("list indexes of %q: %w", table, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// ViewTypesFromQuery tells store.ViewFields to type view columns from the
// query text alone, as on SQLite: PostgreSQL reports a type for every
// result expression (views * 2 is DOUBLE PRECISION), SQLite only for
// plain columns.
func (PGDialect) ViewTypesFromQuery() bool { return true }
