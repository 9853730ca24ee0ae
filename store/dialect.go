package store

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/hanzoai/base"
)

// Storage is how a field's values are stored in its column: the storage
// conventions shared by every driver (see the package documentation of the
// drivers). Fields of different types with the same Storage share a column
// definition, so changing between them moves no data.
type Storage int

// Storage kinds.
const (
	// StorageText is a TEXT NOT NULL DEFAULT '' column: text, editor,
	// email, url, password, date, autodate and single select/relation/file.
	StorageText Storage = iota + 1
	// StorageNumber is a NUMERIC NOT NULL DEFAULT 0 column.
	StorageNumber
	// StorageBool is a BOOLEAN NOT NULL DEFAULT FALSE column.
	StorageBool
	// StorageList is a JSON NOT NULL DEFAULT '[]' column holding an array:
	// multiple select/relation/file.
	StorageList
	// StorageJSON is a nullable JSON column.
	StorageJSON
	// StorageGeoPoint is a JSON NOT NULL DEFAULT '{"lon":0,"lat":0}' column.
	StorageGeoPoint
)

// String names the storage kind.
func (s Storage) String() string {
	switch s {
	case StorageText:
		return "text"
	case StorageNumber:
		return "number"
	case StorageBool:
		return "bool"
	case StorageList:
		return "list"
	case StorageJSON:
		return "json"
	case StorageGeoPoint:
		return "geoPoint"
	}
	return fmt.Sprintf("Storage(%d)", int(s))
}

// FieldStorage returns how f's values are stored. It fails for unknown
// field types.
func FieldStorage(f *base.Field) (Storage, error) {
	switch f.Type {
	case base.FieldText, base.FieldEditor, base.FieldEmail, base.FieldURL, base.FieldPassword,
		base.FieldDate, base.FieldAutodate:
		return StorageText, nil
	case base.FieldSelect, base.FieldRelation, base.FieldFile:
		if f.Multiple() {
			return StorageList, nil
		}
		return StorageText, nil
	case base.FieldNumber:
		return StorageNumber, nil
	case base.FieldBool:
		return StorageBool, nil
	case base.FieldJSON:
		return StorageJSON, nil
	case base.FieldGeoPoint:
		return StorageGeoPoint, nil
	}
	return 0, fmt.Errorf("field %q: unknown field type %q", f.Name, f.Type)
}

// SchemaDialect is the DDL side of a Dialect: what CreateCollection,
// UpdateCollection and friends need to lay out and migrate tables. Every
// driver's Dialect implements it; the schema functions fail with an error
// for a Dialect that does not.
type SchemaDialect interface {
	Dialect
	// ColumnDef is the column definition (type, nullability, default) that
	// follows the quoted column name for values stored as s.
	ColumnDef(s Storage) string
	// ConvertExpr returns an SQL expression turning expr, a value stored as
	// from, into a value stored as to without failing on any stored value
	// (e.g. a single value 'a' becomes '["a"]' and a list its first
	// element).
	ConvertExpr(from, to Storage, expr string) string
}

// ParamTyper is implemented by dialects whose engine types a bare
// parameter in a select list as text (PostgreSQL, when a statement is
// prepared): TypedParam is the placeholder of a value stored as s, cast to
// its column type, so a derived table's numbers compare as numbers.
type ParamTyper interface {
	TypedParam(s Storage) string
}

// TypedParam is the placeholder of a value stored as s in a derived
// table's select list: "?" where the engine keeps the bound value's own
// type (SQLite, where a cast to JSON would even turn JSON text into a
// number), the dialect's ParamTyper otherwise.
func TypedParam(d Dialect, s Storage) string {
	if t, ok := d.(ParamTyper); ok {
		return t.TypedParam(s)
	}
	return "?"
}

// SQLite is the dialect of SQLite and libSQL.
var SQLite SQLiteDialect

var (
	_ SchemaDialect = SQLite
)

// SQLiteDialect is the SQL flavour of SQLite (and libSQL, which speaks it).
type SQLiteDialect struct{}

// Name is "sqlite".
func (SQLiteDialect) Name() string { return "sqlite" }

// Quote quotes ident with double quotes, doubling embedded quotes.
func (SQLiteDialect) Quote(ident string) string {
	return `"` + strings.ReplaceAll(ident, `"`, `""`) + `"`
}

// IsUniqueViolation reports whether err is a UNIQUE or PRIMARY KEY
// constraint failure. It reads the engine's message, which SQLite and
// libSQL share, so it works through any driver.
func (SQLiteDialect) IsUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

var sqliteUnique = regexp.MustCompile(`UNIQUE constraint failed: ([^()]*?)(?:\s*\(\d+\))?$`)

// UniqueColumns returns the columns named by a unique violation such as
// "UNIQUE constraint failed: posts.slug, posts.x" (["slug", "x"]). It is
// nil when err is no unique violation or names an index on expressions
// ("UNIQUE constraint failed: index 'idx_x'").
func (SQLiteDialect) UniqueColumns(err error) []string {
	if err == nil {
		return nil
	}
	msg := err.Error()
	i := strings.Index(msg, "UNIQUE constraint failed: ")
	if i < 0 {
		return nil
	}
	m := sqliteUnique.FindStringSubmatch(msg[i:])
	if m == nil || strings.HasPrefix(m[1], "index ") {
		return nil
	}
	var cols []string
	for _, part := range strings.Split(m[1], ",") {
		part = strings.TrimSpace(part)
		if j := strings.LastIndexByte(part, '.'); j >= 0 {
			part = part[j+1:]
		}
		if part != "" {
			cols = append(cols, part)
		}
	}
	return cols
}

// ColumnDef implements SchemaDialect with the SQLite column types of the
// storage conventions.
func (SQLiteDialect) ColumnDef(s Storage) string {
	switch s {
	case StorageNumber:
		return "NUMERIC NOT NULL DEFAULT 0"
	case StorageBool:
		return "BOOLEAN NOT NULL DEFAULT FALSE"
	case StorageList:
		return "JSON NOT NULL DEFAULT '[]'"
	case StorageJSON:
		return "JSON DEFAULT NULL"
	case StorageGeoPoint:
		return `JSON NOT NULL DEFAULT '{"lon":0,"lat":0}'`
	}
	return "TEXT NOT NULL DEFAULT ''"
}

// ConvertExpr implements SchemaDialect with SQLite's JSON functions. Every
// branch guards json_* calls with json_valid so no stored value makes the
// migration fail.
func (SQLiteDialect) ConvertExpr(from, to Storage, x string) string {
	if from == to {
		return x
	}
	// first is the first element of a list as a plain value (text or
	// number), or the value itself when it is no JSON array.
	first := func(x string) string {
		return "(CASE WHEN json_valid(" + x + ") THEN (CASE json_type(" + x + ") WHEN 'array' THEN json_extract(" + x + ", '$[0]') ELSE " + x + " END) ELSE " + x + " END)"
	}
	// scalar unwraps a JSON scalar (string, number, bool) to a plain value;
	// objects and arrays stay JSON text; NULL stays NULL.
	scalar := func(x string) string {
		return "(CASE WHEN json_valid(" + x + ") THEN (CASE json_type(" + x + ") WHEN 'text' THEN json_extract(" + x + ", '$') WHEN 'integer' THEN json_extract(" + x + ", '$') WHEN 'real' THEN json_extract(" + x + ", '$') WHEN 'true' THEN 1 WHEN 'false' THEN 0 WHEN 'null' THEN NULL ELSE " + x + " END) ELSE " + x + " END)"
	}
	geoDefault := `'{"lon":0,"lat":0}'`
	switch to {
	case StorageText:
		switch from {
		case StorageBool:
			return "(CASE WHEN " + x + " THEN 'true' ELSE 'false' END)"
		case StorageList:
			return "COALESCE(CAST(" + first(x) + " AS TEXT), '')"
		case StorageJSON:
			return "COALESCE(CAST(" + scalar(x) + " AS TEXT), '')"
		}
		return "COALESCE(CAST(" + x + " AS TEXT), '')"
	case StorageNumber:
		var v string
		switch from {
		case StorageBool:
			return "(CASE WHEN " + x + " THEN 1 ELSE 0 END)"
		case StorageGeoPoint:
			return "0"
		case StorageList:
			v = first(x)
		case StorageJSON:
			v = scalar(x)
		default:
			v = x
		}
		return "(CASE WHEN trim(COALESCE(" + v + ", '')) = '' THEN 0 ELSE COALESCE(CAST(" + v + " AS NUMERIC), 0) END)"
	case StorageBool:
		var v string
		switch from {
		case StorageGeoPoint:
			return "FALSE"
		case StorageNumber:
			return "(CASE WHEN COALESCE(" + x + ", 0) != 0 THEN TRUE ELSE FALSE END)"
		case StorageList:
			v = first(x)
		case StorageJSON:
			v = scalar(x)
		default:
			v = x
		}
		return "(CASE WHEN lower(trim(CAST(COALESCE(" + v + ", '') AS TEXT))) IN ('1', 'true', 't', 'yes', 'on') THEN TRUE ELSE FALSE END)"
	case StorageList:
		switch from {
		case StorageText:
			return "(CASE WHEN COALESCE(" + x + ", '') = '' THEN '[]' ELSE json_array(" + x + ") END)"
		case StorageNumber:
			return "json_array(" + x + ")"
		case StorageBool:
			return "json_array(CASE WHEN " + x + " THEN 'true' ELSE 'false' END)"
		case StorageJSON:
			return "(CASE WHEN " + x + " IS NULL THEN '[]' WHEN json_valid(" + x + ") THEN (CASE json_type(" + x + ") WHEN 'array' THEN json(" + x + ") WHEN 'null' THEN '[]' WHEN 'object' THEN json_array(json(" + x + ")) ELSE json_array(json_extract(" + x + ", '$')) END) ELSE json_array(" + x + ") END)"
		}
		return "'[]'"
	case StorageJSON:
		switch from {
		case StorageText:
			return "(CASE WHEN COALESCE(" + x + ", '') = '' THEN NULL WHEN json_valid(" + x + ") THEN json(" + x + ") ELSE json_quote(" + x + ") END)"
		case StorageNumber:
			return "json_quote(" + x + ")"
		case StorageBool:
			return "(CASE WHEN " + x + " THEN 'true' ELSE 'false' END)"
		}
		return x
	case StorageGeoPoint:
		switch from {
		case StorageText, StorageJSON:
			return "(CASE WHEN json_valid(" + x + ") THEN (CASE WHEN json_type(" + x + ") = 'object' AND json_type(" + x + ", '$.lon') IN ('integer', 'real') AND json_type(" + x + ", '$.lat') IN ('integer', 'real') THEN json_object('lon', json_extract(" + x + ", '$.lon'), 'lat', json_extract(" + x + ", '$.lat')) ELSE " + geoDefault + " END) ELSE " + geoDefault + " END)"
		}
		return geoDefault
	}
	return x
}
