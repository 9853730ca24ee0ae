package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hanzoai/base"
)

// System table names.
const (
	CollectionsTable = "_collections"
	MetaTable        = "_meta"
	// SchemaVersionKey is the _meta key holding the schema version.
	SchemaVersionKey = "schema_version"
)

func schemaDialect(d Dialect) (SchemaDialect, error) {
	sd, ok := d.(SchemaDialect)
	if !ok {
		return nil, fmt.Errorf("dialect %q does not implement store.SchemaDialect", d.Name())
	}
	return sd, nil
}

// Bootstrap creates org's system tables and its users collection
// (base.UsersMirror) when they are missing. It is idempotent; drivers call
// it inside a write transaction the first time they open an org.
func Bootstrap(ctx context.Context, tx Tx, d Dialect, org string) error {
	q := d.Quote
	ddl := []string{
		"CREATE TABLE IF NOT EXISTS " + q(CollectionsTable) + " (" +
			q("id") + " TEXT PRIMARY KEY NOT NULL, " +
			q("name") + " TEXT NOT NULL UNIQUE, " +
			q("type") + " TEXT NOT NULL DEFAULT 'base', " +
			q("system") + " BOOLEAN NOT NULL DEFAULT FALSE, " +
			q("data") + " TEXT NOT NULL, " +
			q("created") + " TEXT NOT NULL DEFAULT '', " +
			q("updated") + " TEXT NOT NULL DEFAULT '')",
		"CREATE TABLE IF NOT EXISTS " + q(MetaTable) + " (" +
			q("key") + " TEXT PRIMARY KEY NOT NULL, " +
			q("value") + " TEXT NOT NULL DEFAULT '')",
	}
	for _, s := range ddl {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("bootstrap %q: %w", org, err)
		}
	}
	var n int
	err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+q(CollectionsTable)+" WHERE "+q("name")+" = ?", base.UsersCollection).Scan(&n)
	if err != nil {
		return fmt.Errorf("bootstrap %q: %w", org, err)
	}
	if n == 0 {
		if err := CreateCollection(ctx, tx, d, base.UsersMirror(org)); err != nil {
			return fmt.Errorf("bootstrap %q: %w", org, err)
		}
	}
	return nil
}

// SchemaVersion returns the org's schema version: a counter incremented in
// the same transaction as every collection change (0 before any).
func SchemaVersion(ctx context.Context, q Querier) (int64, error) {
	var v string
	// Every request reads it: through Qualifier where the engine has one
	// (identifiers are quoted alike in every dialect).
	q, meta := PlainSource(SQLite, q, MetaTable)
	row := q.QueryRowContext(ctx, `SELECT "value" FROM `+meta+` WHERE "key" = ?`, SchemaVersionKey)
	err := row.Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("schema version %q: %w", v, err)
	}
	return n, nil
}

func bumpSchemaVersion(ctx context.Context, tx Tx) error {
	res, err := tx.ExecContext(ctx, `UPDATE "`+MetaTable+`" SET "value" = CAST(CAST("value" AS INTEGER) + 1 AS TEXT) WHERE "key" = ?`, SchemaVersionKey)
	if err != nil {
		return fmt.Errorf("bump schema version: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO "`+MetaTable+`" ("key", "value") VALUES (?, '1')`, SchemaVersionKey); err != nil {
		return fmt.Errorf("bump schema version: %w", err)
	}
	return nil
}

// LoadCollections returns every collection of the org, oldest first.
func LoadCollections(ctx context.Context, q Querier) ([]*base.Collection, error) {
	rows, err := q.QueryContext(ctx, `SELECT "data" FROM "`+CollectionsTable+`" ORDER BY "created", "name"`)
	if err != nil {
		return nil, fmt.Errorf("load collections: %w", err)
	}
	defer rows.Close()
	var out []*base.Collection
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("load collections: %w", err)
		}
		c := new(base.Collection)
		if err := json.Unmarshal([]byte(data), c); err != nil {
			return nil, fmt.Errorf("load collections: decode: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load collections: %w", err)
	}
	return out, nil
}

// FindCollection returns the collection whose id or name (case-insensitive)
// is idOrName; the error wraps ErrNotFound when there is none.
func FindCollection(ctx context.Context, q Querier, idOrName string) (*base.Collection, error) {
	var data string
	err := q.QueryRowContext(ctx, `SELECT "data" FROM "`+CollectionsTable+`" WHERE "id" = ? OR lower("name") = lower(?) ORDER BY "id" = ? DESC LIMIT 1`,
		idOrName, idOrName, idOrName).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("find collection %q: %w", idOrName, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("find collection %q: %w", idOrName, err)
	}
	c := new(base.Collection)
	if err := json.Unmarshal([]byte(data), c); err != nil {
		return nil, fmt.Errorf("find collection %q: decode: %w", idOrName, err)
	}
	return c, nil
}

// reservedNames are table names a collection may not take.
var reservedNames = []string{CollectionsTable, MetaTable}

// prepare fills defaults (field ids, timestamps) and validates c.
func prepare(c *base.Collection, now string) error {
	if c.ID == "" {
		return errors.New("collection id is empty")
	}
	if !base.ValidName(c.Name) {
		return fmt.Errorf("invalid collection name %q", c.Name)
	}
	lower := strings.ToLower(c.Name)
	for _, r := range reservedNames {
		if lower == r {
			return fmt.Errorf("collection name %q is reserved", c.Name)
		}
	}
	if strings.HasPrefix(lower, "sqlite_") || strings.HasPrefix(lower, "pg_") {
		return fmt.Errorf("collection name %q is reserved", c.Name)
	}
	switch c.Type {
	case "":
		c.Type = base.TypeBase
	case base.TypeBase, base.TypeAuth, base.TypeView:
	default:
		return fmt.Errorf("unknown collection type %q", c.Type)
	}
	if c.Created == "" {
		c.Created = now
	}
	if c.Updated == "" {
		c.Updated = now
	}
	names := map[string]bool{}
	ids := map[string]bool{}
	for _, f := range c.Fields {
		if f == nil {
			return errors.New("nil field")
		}
		if !base.ValidName(f.Name) {
			return fmt.Errorf("invalid field name %q", f.Name)
		}
		if !base.KnownFieldType(f.Type) {
			return fmt.Errorf("field %q: unknown type %q", f.Name, f.Type)
		}
		if f.ID == "" {
			f.ID = base.DefaultFieldID(f.Type, f.Name)
		}
		ln := strings.ToLower(f.Name)
		if names[ln] {
			return fmt.Errorf("duplicate field name %q", f.Name)
		}
		if ids[f.ID] {
			return fmt.Errorf("duplicate field id %q", f.ID)
		}
		names[ln], ids[f.ID] = true, true
		if ln == "id" && f.Name != "id" {
			return fmt.Errorf("field %q: the id field must be named \"id\"", f.Name)
		}
	}
	if c.IsView() {
		if _, err := checkSelect(c.ViewQuery); err != nil {
			return err
		}
	}
	return nil
}

// checkSelect validates a view query: one SELECT (or WITH) statement. It
// returns the query without trailing semicolons.
func checkSelect(query string) (string, error) {
	query = strings.TrimSpace(query)
	query = strings.TrimRight(query, "; \t\r\n")
	toks, err := tokenize(query)
	if err != nil {
		return "", fmt.Errorf("invalid view query: %w", err)
	}
	if len(toks) == 0 || !(toks[0].is("SELECT") || toks[0].is("WITH")) {
		return "", errors.New("invalid view query: must be a SELECT statement")
	}
	for _, t := range toks {
		if t.is(";") {
			return "", errors.New("invalid view query: must be a single statement")
		}
	}
	return query, nil
}

func nowString() string { return base.FormatTime(time.Now()) }

func encodeCollection(c *base.Collection) (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode collection %q: %w", c.Name, err)
	}
	return string(b), nil
}

// nameTaken reports whether another collection (not id) uses name, case
// insensitively, or id is taken when checkID is set.
func nameTaken(ctx context.Context, tx Tx, id, name string, checkID bool) error {
	var otherID, otherName string
	query := `SELECT "id", "name" FROM "` + CollectionsTable + `" WHERE (lower("name") = lower(?) AND "id" != ?)`
	args := []any{name, id}
	if checkID {
		query += ` OR "id" = ?`
		args = append(args, id)
	}
	err := tx.QueryRowContext(ctx, query+" LIMIT 1", args...).Scan(&otherID, &otherName)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return err
	}
	if otherID == id {
		return fmt.Errorf("collection id %q: %w", id, ErrExists)
	}
	return fmt.Errorf("collection name %q: %w", name, ErrExists)
}

// CreateCollection writes c to the catalogue, bumps the schema version and
// creates its table (or VIEW for view collections) and indexes, all in tx.
// It fills empty field ids and timestamps in c, and infers a view's fields
// from its query when c.Fields is empty. The error wraps ErrExists when
// the id or name (case-insensitively) is taken.
func CreateCollection(ctx context.Context, tx Tx, d Dialect, c *base.Collection) error {
	sd, err := schemaDialect(d)
	if err != nil {
		return err
	}
	if err := prepare(c, nowString()); err != nil {
		return fmt.Errorf("create collection %q: %w", c.Name, err)
	}
	if err := nameTaken(ctx, tx, c.ID, c.Name, true); err != nil {
		return fmt.Errorf("create collection: %w", err)
	}
	if c.IsView() {
		if err := createView(ctx, tx, sd, c); err != nil {
			return fmt.Errorf("create collection %q: %w", c.Name, err)
		}
	} else {
		if err := createTable(ctx, tx, sd, c); err != nil {
			return fmt.Errorf("create collection %q: %w", c.Name, err)
		}
		idx, err := parseIndexes(c.Indexes)
		if err != nil {
			return fmt.Errorf("create collection %q: %w", c.Name, err)
		}
		for i, ix := range idx {
			if _, err := tx.ExecContext(ctx, ix.SQL(d, c.Name)); err != nil {
				return fmt.Errorf("create collection %q: %w", c.Name, &IndexError{Index: i, Name: ix.Name, Err: err})
			}
		}
	}
	data, err := encodeCollection(c)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO "`+CollectionsTable+`" ("id", "name", "type", "system", "data", "created", "updated") VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, string(c.Type), c.System, data, c.Created, c.Updated)
	if err != nil {
		if d.IsUniqueViolation(err) {
			return fmt.Errorf("create collection %q: %w", c.Name, ErrExists)
		}
		return fmt.Errorf("create collection %q: %w", c.Name, err)
	}
	return bumpSchemaVersion(ctx, tx)
}

// IndexError reports that the index at position Index of a collection's
// Indexes could not be created (e.g. a unique index over duplicate values).
type IndexError struct {
	Index int
	Name  string
	Err   error
}

func (e *IndexError) Error() string {
	return fmt.Sprintf("index %d (%q): %v", e.Index, e.Name, e.Err)
}

func (e *IndexError) Unwrap() error { return e.Err }

func parseIndexes(defs []string) ([]Index, error) {
	out := make([]Index, 0, len(defs))
	names := map[string]bool{}
	for _, s := range defs {
		ix, err := ParseIndex(s)
		if err != nil {
			return nil, err
		}
		ln := strings.ToLower(ix.Name)
		if names[ln] {
			return nil, fmt.Errorf("duplicate index name %q", ix.Name)
		}
		names[ln] = true
		out = append(out, ix)
	}
	return out, nil
}

func createTable(ctx context.Context, tx Tx, d SchemaDialect, c *base.Collection) error {
	q := d.Quote
	cols := []string{q("id") + " TEXT PRIMARY KEY NOT NULL"}
	for _, f := range c.Fields {
		if f.Name == "id" {
			continue
		}
		st, err := FieldStorage(f)
		if err != nil {
			return err
		}
		cols = append(cols, q(f.Name)+" "+d.ColumnDef(st))
	}
	_, err := tx.ExecContext(ctx, "CREATE TABLE "+q(c.Name)+" ("+strings.Join(cols, ", ")+")")
	return err
}

func createView(ctx context.Context, tx Tx, d SchemaDialect, c *base.Collection) error {
	query, err := checkSelect(c.ViewQuery)
	if err != nil {
		return err
	}
	if len(c.Fields) == 0 {
		fields, err := ViewFields(ctx, tx, d, query)
		if err != nil {
			return err
		}
		c.Fields = fields
	}
	if c.Field("id") == nil {
		return errors.New("view query must select an id column")
	}
	_, err = tx.ExecContext(ctx, "CREATE VIEW "+d.Quote(c.Name)+" AS "+query)
	return err
}

// UpdateCollection replaces old by c in the catalogue, bumps the schema
// version and migrates the table in tx: a rename renames the table; fields
// are matched by id, so renamed fields keep their data; dropped fields drop
// their column; a change of storage (type, or single/multiple) converts the
// stored values with SchemaDialect.ConvertExpr; indexes no longer defined
// are dropped and new ones created. A view collection's VIEW is recreated;
// its fields are inferred again (ViewFields) when the query changed or
// c.Fields is empty.
// A collection cannot change between view and non-view types.
func UpdateCollection(ctx context.Context, tx Tx, d Dialect, old, c *base.Collection) error {
	sd, err := schemaDialect(d)
	if err != nil {
		return err
	}
	if old.ID != c.ID {
		return fmt.Errorf("update collection %q: id cannot change (%q -> %q)", old.Name, old.ID, c.ID)
	}
	if old.IsView() != c.IsView() {
		return fmt.Errorf("update collection %q: cannot change type %q to %q", old.Name, old.Type, c.Type)
	}
	now := nowString()
	if c.Updated == "" || c.Updated == old.Updated {
		c.Updated = now
	}
	if err := prepare(c, now); err != nil {
		return fmt.Errorf("update collection %q: %w", old.Name, err)
	}
	if err := nameTaken(ctx, tx, c.ID, c.Name, false); err != nil {
		return fmt.Errorf("update collection: %w", err)
	}
	q := sd.Quote
	if c.IsView() {
		if strings.TrimSpace(c.ViewQuery) != strings.TrimSpace(old.ViewQuery) {
			c.Fields = nil // a new query defines new fields
		}
		if _, err := tx.ExecContext(ctx, "DROP VIEW IF EXISTS "+q(old.Name)); err != nil {
			return fmt.Errorf("update collection %q: %w", old.Name, err)
		}
		if err := createView(ctx, tx, sd, c); err != nil {
			return fmt.Errorf("update collection %q: %w", old.Name, err)
		}
	} else if err := migrateTable(ctx, tx, sd, old, c); err != nil {
		return fmt.Errorf("update collection %q: %w", old.Name, err)
	}
	data, err := encodeCollection(c)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `UPDATE "`+CollectionsTable+`" SET "name" = ?, "type" = ?, "system" = ?, "data" = ?, "updated" = ? WHERE "id" = ?`,
		c.Name, string(c.Type), c.System, data, c.Updated, c.ID)
	if err != nil {
		return fmt.Errorf("update collection %q: %w", old.Name, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("update collection %q: %w", old.Name, ErrNotFound)
	}
	return bumpSchemaVersion(ctx, tx)
}

// colChange is one field present in both versions of a collection.
type colChange struct {
	old, new         *base.Field
	oldSt, newSt     Storage
	renamed, retyped bool
}

func migrateTable(ctx context.Context, tx Tx, d SchemaDialect, old, c *base.Collection) error {
	q := d.Quote
	exec := func(s string) error {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
		return nil
	}
	table := old.Name
	if old.Name != c.Name {
		if strings.EqualFold(old.Name, c.Name) {
			// Case-only renames go through a temporary name: some
			// engines treat the two names as the same table.
			tmp := "_tmp_rename_" + c.Name
			if err := exec("ALTER TABLE " + q(old.Name) + " RENAME TO " + q(tmp)); err != nil {
				return err
			}
			table = tmp
		}
		if err := exec("ALTER TABLE " + q(table) + " RENAME TO " + q(c.Name)); err != nil {
			return err
		}
		table = c.Name
	}

	// Diff the fields by id; the id column itself never changes.
	newByID := map[string]*base.Field{}
	for _, f := range c.Fields {
		if f.Name != "id" {
			newByID[f.ID] = f
		}
	}
	var drops []*base.Field
	var changes []colChange
	oldIDs := map[string]bool{}
	for _, of := range old.Fields {
		if of.Name == "id" {
			continue
		}
		oldIDs[of.ID] = true
		nf, ok := newByID[of.ID]
		if !ok {
			drops = append(drops, of)
			continue
		}
		os, err := FieldStorage(of)
		if err != nil {
			return err
		}
		ns, err := FieldStorage(nf)
		if err != nil {
			return err
		}
		changes = append(changes, colChange{old: of, new: nf, oldSt: os, newSt: ns,
			renamed: of.Name != nf.Name, retyped: os != ns})
	}
	var adds []*base.Field
	for _, f := range c.Fields {
		if f.Name != "id" && !oldIDs[f.ID] {
			adds = append(adds, f)
		}
	}
	structural := len(drops) > 0
	for _, ch := range changes {
		structural = structural || ch.renamed || ch.retyped
	}

	// Indexes: drop the ones that go away or may reference changed
	// columns; keep identical ones (by definition, ignoring the table).
	oldIdx, err := parseIndexes(old.Indexes)
	if err != nil {
		oldIdx = nil // unparsable old definitions: nothing we could keep
	}
	newIdx, err := parseIndexes(c.Indexes)
	if err != nil {
		return err
	}
	newKeys := map[string]bool{}
	for _, ix := range newIdx {
		newKeys[ix.key(d)] = true
	}
	kept := map[string]bool{}
	for _, ix := range oldIdx {
		if !structural && newKeys[ix.key(d)] {
			kept[ix.key(d)] = true
			continue
		}
		if err := exec("DROP INDEX IF EXISTS " + q(ix.Name)); err != nil {
			return err
		}
	}
	if structural {
		// Indexes the catalogue does not know about (created before a
		// crash or by hand) would block DROP COLUMN; they are not part of
		// the collection, so they go too.
		if err := dropTableIndexes(ctx, tx, d, table); err != nil {
			return err
		}
	}

	for _, f := range drops {
		if err := exec("ALTER TABLE " + q(table) + " DROP COLUMN " + q(f.Name)); err != nil {
			return err
		}
	}
	// Renames go through temporary names so swaps (a<->b) work.
	for i, ch := range changes {
		if ch.renamed {
			if err := exec("ALTER TABLE " + q(table) + " RENAME COLUMN " + q(ch.old.Name) + " TO " + q(fmt.Sprintf("_tmp_col_%d", i))); err != nil {
				return err
			}
		}
	}
	for i, ch := range changes {
		if ch.renamed {
			if err := exec("ALTER TABLE " + q(table) + " RENAME COLUMN " + q(fmt.Sprintf("_tmp_col_%d", i)) + " TO " + q(ch.new.Name)); err != nil {
				return err
			}
		}
	}
	for _, ch := range changes {
		if !ch.retyped {
			continue
		}
		col, tmp := ch.new.Name, "_tmp_conv_"+ch.new.Name
		steps := []string{
			"ALTER TABLE " + q(table) + " ADD COLUMN " + q(tmp) + " " + d.ColumnDef(ch.newSt),
			"UPDATE " + q(table) + " SET " + q(tmp) + " = " + d.ConvertExpr(ch.oldSt, ch.newSt, q(col)),
			"ALTER TABLE " + q(table) + " DROP COLUMN " + q(col),
			"ALTER TABLE " + q(table) + " RENAME COLUMN " + q(tmp) + " TO " + q(col),
		}
		for _, s := range steps {
			if err := exec(s); err != nil {
				return err
			}
		}
	}
	for _, f := range adds {
		st, err := FieldStorage(f)
		if err != nil {
			return err
		}
		if err := exec("ALTER TABLE " + q(table) + " ADD COLUMN " + q(f.Name) + " " + d.ColumnDef(st)); err != nil {
			return err
		}
	}
	for i, ix := range newIdx {
		if kept[ix.key(d)] {
			continue
		}
		if err := exec(ix.SQL(d, table)); err != nil {
			return &IndexError{Index: i, Name: ix.Name, Err: err}
		}
	}
	return nil
}

// dropTableIndexes drops every explicit index on table (SQLite catalogue;
// other engines list theirs through IndexLister).
func dropTableIndexes(ctx context.Context, tx Tx, d Dialect, table string) error {
	var names []string
	if il, ok := d.(IndexLister); ok {
		var err error
		names, err = il.TableIndexes(ctx, tx, table)
		if err != nil {
			return err
		}
	} else if d.Name() == "sqlite" {
		rows, err := tx.QueryContext(ctx, `SELECT "name" FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, table)
		if err != nil {
			return fmt.Errorf("list indexes of %q: %w", table, err)
		}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				rows.Close()
				return err
			}
			names = append(names, n)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
	}
	for _, n := range names {
		if _, err := tx.ExecContext(ctx, "DROP INDEX IF EXISTS "+d.Quote(n)); err != nil {
			return fmt.Errorf("drop index %q: %w", n, err)
		}
	}
	return nil
}

// IndexLister is an optional Dialect extension listing the explicit
// (non-constraint) indexes of a table; SQLite needs none.
type IndexLister interface {
	TableIndexes(ctx context.Context, q Querier, table string) ([]string, error)
}

// DeleteCollection removes c from the catalogue, bumps the schema version
// and drops its table or VIEW in tx. It refuses to drop a table that a
// view collection's query references. The error wraps ErrNotFound when c
// is not in the catalogue.
func DeleteCollection(ctx context.Context, tx Tx, d Dialect, c *base.Collection) error {
	all, err := LoadCollections(ctx, tx)
	if err != nil {
		return fmt.Errorf("delete collection %q: %w", c.Name, err)
	}
	for _, v := range all {
		if !v.IsView() || v.ID == c.ID {
			continue
		}
		if queryReferences(v.ViewQuery, c.Name) {
			return fmt.Errorf("delete collection %q: it is used by view collection %q", c.Name, v.Name)
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM "`+CollectionsTable+`" WHERE "id" = ?`, c.ID)
	if err != nil {
		return fmt.Errorf("delete collection %q: %w", c.Name, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("delete collection %q: %w", c.Name, ErrNotFound)
	}
	kind := "TABLE"
	if c.IsView() {
		kind = "VIEW"
	}
	if _, err := tx.ExecContext(ctx, "DROP "+kind+" IF EXISTS "+d.Quote(c.Name)); err != nil {
		return fmt.Errorf("delete collection %q: %w", c.Name, err)
	}
	return bumpSchemaVersion(ctx, tx)
}

// queryReferences reports whether query names table as an identifier.
func queryReferences(query, table string) bool {
	toks, err := tokenize(query)
	if err != nil {
		return strings.Contains(strings.ToLower(query), strings.ToLower(table))
	}
	for _, t := range toks {
		if n, ok := t.ident(); ok && strings.EqualFold(n, table) {
			return true
		}
	}
	return false
}

// TruncateCollection deletes every record of c in tx. View collections
// cannot be truncated.
func TruncateCollection(ctx context.Context, tx Tx, d Dialect, c *base.Collection) error {
	if c.IsView() {
		return fmt.Errorf("truncate collection %q: view collections cannot be truncated", c.Name)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+d.Quote(c.Name)); err != nil {
		return fmt.Errorf("truncate collection %q: %w", c.Name, err)
	}
	return nil
}
