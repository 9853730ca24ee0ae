package rules

import (
	"errors"
	"strings"
)

// Postgres is the dialect of PostgreSQL (store/postgres). Its SQL relies
// on what store/postgres creates in every org schema: the helper
// functions base_json and base_strftime, and comparison operators between
// text and numbers/booleans with SQLite's loose semantics (a JSON path
// compared with a number compares numerically). The compiler's SQLite-style
// `a IS b` / `a IS NOT b` are rewritten to IS [NOT] DISTINCT FROM by the
// store's driver, which also rebinds "?" to $n.
//
// Semantics match SQLite's except where documented here:
//   - `~` is ILIKE with the same patterns and escape character; it folds
//     case for all of Unicode where SQLite's LIKE folds ASCII only.
//   - JSON paths (data.a.b) extract text: strings unquoted, numbers as
//     their JSON text, booleans "true"/"false" (SQLite: 1/0), objects and
//     arrays as JSON text; comparisons with numbers are numeric.
//   - :each over a list column iterates text elements
//     (json_array_elements_text): numbers and booleans compare as text.
//   - strftime supports %Y %m %d %H %M %S %f %j %w %s %% and the
//     modifiers "start of day|month|year", "±N seconds|minutes|hours|days|
//     months|years" and "localtime"/"utc" (no-ops, times are UTC); other
//     specifiers and modifiers give NULL.
//   - @rowid sorts by ctid: insertion order until rows are updated.
var Postgres Dialect = postgresDialect{}

type postgresDialect struct{}

func (postgresDialect) Name() string { return "postgres" }

func (postgresDialect) Quote(ident string) string {
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}

// Bool binds booleans as booleans: BOOLEAN columns compare with them.
func (postgresDialect) Bool(b bool) any { return b }

func pgText(x SQL) SQL { return Cat("CAST(", x, " AS TEXT)") }

func (postgresDialect) Coalesce(x SQL) SQL { return Cat("COALESCE(", pgText(x), ", '')") }

func (postgresDialect) Text(x SQL) SQL { return pgText(x) }

func (postgresDialect) Lower(x SQL) SQL { return Cat("LOWER(", pgText(x), ")") }

func (postgresDialect) Like(x, pattern SQL, not bool) SQL {
	op := " ILIKE "
	if not {
		op = " NOT ILIKE "
	}
	return Cat(pgText(x), op, pgText(pattern), ` ESCAPE '\'`)
}

func (postgresDialect) Contains(x SQL) SQL { return Cat("('%' || ", pgText(x), " || '%')") }

// jsonArray normalizes x to a JSON array, whatever x's column type:
// NULL and ” are empty, text starting with '[' is the array, other
// text a one-element array. A lone bound parameter is the compiler's own
// JSON encoding.
func (postgresDialect) jsonArray(x SQL) SQL {
	if x.Text == "?" {
		return Cat("CAST(", x, " AS json)")
	}
	t := pgText(x)
	return Cat("(CASE WHEN ", x, " IS NULL OR ", t, " = '' THEN '[]'::json WHEN ", t,
		` ~ '^\s*\[' THEN CAST(`, t, " AS json) ELSE json_build_array(", t, ") END)")
}

func (d postgresDialect) JSONEach(arr SQL, alias string) (SQL, string) {
	q := d.Quote(alias)
	return Cat("json_array_elements_text(", d.jsonArray(arr), ") AS ", q, "(value)"), q + ".value"
}

func (d postgresDialect) JSONArrayLength(arr SQL) SQL {
	return Cat("COALESCE(json_array_length(", d.jsonArray(arr), "), 0)")
}

// JSONArrayContains tests containment with jsonb's @>, which compares
// strings with strings and numbers with numbers, as SQLite's json_each
// equality does.
func (d postgresDialect) JSONArrayContains(arr, v SQL, alias string) SQL {
	return Cat("(CAST(", d.jsonArray(arr), " AS jsonb) @> jsonb_build_array(", v, "))")
}

func (postgresDialect) JSONExtract(doc SQL, path []string) SQL {
	var b strings.Builder
	b.WriteString("{")
	for i, seg := range path {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"` + strings.ReplaceAll(strings.ReplaceAll(seg, `\`, `\\`), `"`, `\"`) + `"`)
	}
	b.WriteString("}")
	// base_json yields NULL for text that is no JSON, as json_valid guards
	// SQLite's json_extract.
	return Cat("(base_json(", pgText(doc), ") #>> CAST(", Param(b.String()), " AS text[]))")
}

func (postgresDialect) GeoDistance(lonA, latA, lonB, latB SQL) SQL {
	f := func(x SQL) SQL { return Cat("radians(CAST(", x, " AS DOUBLE PRECISION))") }
	return Cat("(6371 * acos(LEAST(1, GREATEST(-1, cos(", f(latA), ") * cos(", f(latB), ") * cos(",
		f(lonB), " - ", f(lonA), ") + sin(", f(latA), ") * sin(", f(latB), ")))))")
}

func (postgresDialect) Strftime(args []SQL) SQL {
	cast := make([]SQL, len(args))
	for i, a := range args {
		cast[i] = pgText(a)
	}
	return Cat("base_strftime(", Join(", ", cast), ")")
}

func (postgresDialect) Random() string { return "random()" }

func (d postgresDialect) RowID(alias string) (string, error) {
	if alias == "" {
		return "", errors.New("rowid needs a table alias")
	}
	return d.Quote(alias) + ".ctid", nil
}
