package rules

import (
	"errors"
	"strconv"
	"strings"
)

// Dialect is what differs between SQL engines at the expression level of
// the filter language. The compiler only ever emits portable SQL (AND, OR,
// NOT, EXISTS, scalar subqueries, LEFT JOIN ... ON, =, IS, IS NOT, <, COALESCE
// through Coalesce, empty-string and NULL literals, TRUE) around the fragments a
// Dialect returns, and always binds values with "?" (a PostgreSQL store
// rebinds them to $n). Every method must be pure.
type Dialect interface {
	// Name is "sqlite" or "postgres".
	Name() string
	// Quote quotes an identifier.
	Quote(ident string) string
	// Bool is the bound value of the literals true and false, comparable
	// with stored bool columns.
	Bool(b bool) any
	// Coalesce is x with NULL replaced by the empty string, comparable as
	// text with any column type.
	Coalesce(x SQL) SQL
	// Lower lower-cases x.
	Lower(x SQL) SQL
	// Text is a JSON-typed column x (multi-valued, json and geoPoint
	// fields) as its JSON text, the value the wire protocol compares and
	// sorts such a field by (SQLite stores the text itself).
	Text(x SQL) SQL
	// Like is `x LIKE pattern` (or NOT LIKE) with '\' as the escape
	// character, case-insensitive for ASCII as SQLite's LIKE is.
	Like(x, pattern SQL, not bool) SQL
	// Contains is the LIKE pattern '%' || x || '%'.
	Contains(x SQL) SQL
	// JSONEach is a table source, to be used as `LEFT JOIN <source> ON ...`
	// or `FROM <source>`, with one row per element of the JSON array arr
	// (NULL and the empty string iterate nothing; a JSON scalar or
	// non-JSON text iterates itself). When arr is a single bound parameter
	// it is a valid JSON array encoded by the compiler. value is the SQL
	// expression of the current element's value (JSON strings unquoted) in
	// rows of that source, aliased alias.
	JSONEach(arr SQL, alias string) (source SQL, value string)
	// JSONArrayLength is the number of elements of the JSON array arr (0
	// for NULL, '' and non-arrays).
	JSONArrayLength(arr SQL) SQL
	// JSONArrayContains is a boolean: the JSON array arr has an element
	// equal to v. alias is free for the dialect's own use.
	JSONArrayContains(arr, v SQL, alias string) SQL
	// JSONExtract is the value at path (keys; all-digit segments are array
	// indexes) inside the JSON document doc, as a scalar (JSON strings
	// unquoted, objects and arrays as JSON text); NULL when missing or
	// when doc is not valid JSON.
	JSONExtract(doc SQL, path []string) SQL
	// GeoDistance is the Haversine distance in kilometres between two
	// points given in degrees.
	GeoDistance(lonA, latA, lonB, latB SQL) SQL
	// Strftime is SQLite's strftime(format, [time, modifiers...]); args[0]
	// is the format. NULL normalization is the compiler's job.
	Strftime(args []SQL) SQL
	// Random is an expression for random ordering.
	Random() string
	// RowID is the insertion-order key of rows of table alias, or an error
	// when the engine has none.
	RowID(alias string) (string, error)
}

// SQLite is the dialect of SQLite and libSQL (modernc.org/sqlite, built with
// the JSON1 and math functions).
var SQLite Dialect = sqliteDialect{}

type sqliteDialect struct{}

func (sqliteDialect) Name() string { return "sqlite" }

func (sqliteDialect) Quote(ident string) string {
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}

func (sqliteDialect) Bool(b bool) any {
	if b {
		return int64(1)
	}
	return int64(0)
}

func (sqliteDialect) Coalesce(x SQL) SQL { return Cat("COALESCE(", x, ", '')") }

func (sqliteDialect) Text(x SQL) SQL { return x }

func (sqliteDialect) Lower(x SQL) SQL { return Cat("LOWER(", x, ")") }

func (sqliteDialect) Like(x, pattern SQL, not bool) SQL {
	op := " LIKE "
	if not {
		op = " NOT LIKE "
	}
	return Cat(x, op, pattern, ` ESCAPE '\'`)
}

func (sqliteDialect) Contains(x SQL) SQL { return Cat("('%' || ", x, " || '%')") }

// jsonArray normalizes x for json_each/json_array_length: valid JSON as is,
// NULL and the empty string as an empty array, other text as a one-element
// array (a value stored before a field became multiple). A lone bound
// parameter is the compiler's own JSON encoding and is used as is.
func (sqliteDialect) jsonArray(x SQL) SQL {
	if x.Text == "?" {
		return x
	}
	return Cat("(CASE WHEN json_valid(", x, ") THEN ", x, " WHEN ", x, " IS NULL OR ", x,
		" = '' THEN '[]' ELSE json_array(", x, ") END)")
}

func (d sqliteDialect) JSONEach(arr SQL, alias string) (SQL, string) {
	q := d.Quote(alias)
	return Cat("json_each(", d.jsonArray(arr), ") AS ", q), q + ".value"
}

func (d sqliteDialect) JSONArrayLength(arr SQL) SQL {
	return Cat("COALESCE(json_array_length(", d.jsonArray(arr), "), 0)")
}

func (d sqliteDialect) JSONArrayContains(arr, v SQL, alias string) SQL {
	src, val := d.JSONEach(arr, alias)
	return Cat("EXISTS (SELECT 1 FROM ", src, " WHERE ", val, " = ", v, ")")
}

func (sqliteDialect) JSONExtract(doc SQL, path []string) SQL {
	var b strings.Builder
	b.WriteString("$")
	for _, seg := range path {
		if _, err := strconv.Atoi(seg); err == nil {
			b.WriteString("[" + seg + "]")
		} else {
			b.WriteString(`."` + seg + `"`)
		}
	}
	return Cat("(CASE WHEN json_valid(", doc, ") THEN json_extract(", doc, ", ", Param(b.String()), ") END)")
}

func (sqliteDialect) GeoDistance(lonA, latA, lonB, latB SQL) SQL {
	rad := func(x SQL) SQL { return Cat("radians(", x, ")") }
	return Cat("(6371 * acos(MIN(1, MAX(-1, cos(", rad(latA), ") * cos(", rad(latB), ") * cos(",
		rad(lonB), " - ", rad(lonA), ") + sin(", rad(latA), ") * sin(", rad(latB), ")))))")
}

func (sqliteDialect) Strftime(args []SQL) SQL {
	return Cat("strftime(", Join(", ", args), ")")
}

func (sqliteDialect) Random() string { return "RANDOM()" }

func (d sqliteDialect) RowID(alias string) (string, error) {
	if alias == "" {
		return "", errors.New("rowid needs a table alias")
	}
	return d.Quote(alias) + "._rowid_", nil
}
