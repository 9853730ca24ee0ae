package records

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/store"
)

// mirrorFields maps claims onto the users mirror: field → claim names in
// order of preference.
var mirrorFields = []struct {
	field  string
	claims []string
}{
	{"sub", []string{"sub"}},
	{"email", []string{"email"}},
	{"name", []string{"name", "displayName", "preferred_username"}},
	{"avatar", []string{"avatar", "picture"}},
}

// mirrorValues extracts the mirror fields from claims.
func mirrorValues(claims map[string]any) map[string]any {
	out := make(map[string]any, len(mirrorFields)+1)
	for _, mf := range mirrorFields {
		out[mf.field] = ""
		for _, k := range mf.claims {
			if s, ok := claims[k].(string); ok && s != "" {
				out[mf.field] = s
				break
			}
		}
	}
	v, _ := claims["email_verified"].(bool)
	out["verified"] = v
	return out
}

// EnsureUser upserts the users mirror record of an authenticated identity
// in db: created on the identity's first request in the org, refreshed when
// its claims change. It reads first and writes only on a difference, so the
// common case costs one indexed read. It returns the events to publish.
func (s *Service) EnsureUser(ctx context.Context, db store.DB, id *base.Identity) ([]base.Event, error) {
	if id.Guest() {
		return nil, nil
	}
	c, err := s.usersCollection(id)
	if err != nil {
		return nil, err
	}
	cur, err := s.loadByID(ctx, db, c, id.UserID, "", nil)
	if err != nil {
		return nil, err
	}
	return s.ensureUser(ctx, db, id, c, cur)
}

// EnsureUserFrom is EnsureUser given the identity's mirror record as read
// by LoadMirror under s.Schema (nil: none yet), so that an up to date
// mirror costs no further statement. The caller must have checked that
// the version LoadMirror returned is s.Schema.Version.
func (s *Service) EnsureUserFrom(ctx context.Context, db store.DB, id *base.Identity, cur *Record) ([]base.Event, error) {
	if id.Guest() {
		return nil, nil
	}
	c, err := s.usersCollection(id)
	if err != nil {
		return nil, err
	}
	return s.ensureUser(ctx, db, id, c, cur)
}

// LoadMirror reads, in one statement, the org's schema version (0 when
// none is recorded, as store.SchemaVersion) and the users mirror record
// of userID laid out as s.Schema says (nil when there is none, and always
// for a guest's ""): the reads every request starts with, in one round
// trip. With pre, the same statement also reads the record pre names, as
// the first read of a view by id (see Prefetch). cur and pre are only
// meaningful when version equals s.Schema.Version; otherwise the caller
// reloads the schema. After a schema change the statement may fail (a
// column gone): the caller then takes the general path too.
func (s *Service) LoadMirror(ctx context.Context, q store.Querier, userID string, pre *Prefetch) (version int64, cur *Record, err error) {
	c := s.Schema.Collection(base.UsersCollection)
	if c == nil {
		return 0, nil, fmt.Errorf("load users mirror: no users collection")
	}
	if pre != nil && (pre.Collection == nil || pre.Collection.Name == prefetchAlias) {
		pre = nil
	}
	d := s.Dialect
	_, meta := store.PlainSource(d, q, store.MetaTable)
	var preFrom string
	if pre != nil {
		_, preFrom = store.PlainSource(d, q, pre.Collection.Name)
	}
	q, users := store.PlainSource(d, q, c.Name)
	var b strings.Builder
	b.WriteString(`SELECT (SELECT "value" FROM `)
	b.WriteString(meta)
	b.WriteString(` WHERE "key" = ?), `)
	b.WriteString(selectList(d, c, c.Name))
	if pre != nil {
		b.WriteString(", ")
		b.WriteString(selectList(d, pre.Collection, prefetchAlias))
	}
	b.WriteString(` FROM (SELECT 1) AS "base_one" LEFT JOIN `)
	b.WriteString(users)
	b.WriteString(" AS ")
	b.WriteString(d.Quote(c.Name))
	b.WriteString(" ON ")
	b.WriteString(s.idColumn(c))
	b.WriteString(" = ?")
	args := []any{store.SchemaVersionKey, userID}
	if pre != nil {
		qa := d.Quote(prefetchAlias)
		b.WriteString(" LEFT JOIN ")
		b.WriteString(preFrom)
		b.WriteString(" AS ")
		b.WriteString(qa)
		b.WriteString(" ON ")
		b.WriteString(qa + "." + d.Quote("id"))
		b.WriteString(" = ?")
		args = append(args, pre.ID)
	}

	fields := storedFields(c)
	var preFields []*base.Field
	if pre != nil {
		preFields = storedFields(pre.Collection)
	}
	var v sql.NullString
	dest := make([]any, len(fields)+len(preFields))
	ptrs := make([]any, 1+len(dest))
	ptrs[0] = &v
	for i := range dest {
		ptrs[1+i] = &dest[i]
	}
	if err := q.QueryRowContext(ctx, b.String(), args...).Scan(ptrs...); err != nil {
		return 0, nil, classify(fmt.Errorf("load users mirror %s: %w", userID, err))
	}
	if v.Valid {
		version, err = strconv.ParseInt(strings.TrimSpace(v.String), 10, 64)
		if err != nil {
			return 0, nil, fmt.Errorf("schema version %q: %w", v.String, err)
		}
	}
	cur = decodeRow(c, fields, dest[:len(fields)])
	if pre != nil {
		pre.Record = decodeRow(pre.Collection, preFields, dest[len(fields):])
		pre.Loaded = true
	}
	return version, cur, nil
}

// decodeRow is the record of c in a LEFT JOIN's columns (fields' values
// in vals), nil when the join found no row.
func decodeRow(c *base.Collection, fields []*base.Field, vals []any) *Record {
	for i, f := range fields {
		if f.Name == "id" {
			if vals[i] == nil {
				return nil
			}
			return decodeRecord(c, fields, vals)
		}
	}
	return nil
}

// prefetchAlias names the prefetched table in LoadMirror's statement; a
// collection of that name is not prefetched.
const prefetchAlias = "base_prefetch"

// Prefetch is a record read by id in LoadMirror's statement, which a view
// by id then uses instead of reading it again (see View): one round trip
// for the whole request when no rule needs the store.
type Prefetch struct {
	// Collection and ID name the record; set by the caller.
	Collection *base.Collection
	ID         string
	// Loaded reports that the statement ran; Record is then the stored
	// record (access rules not applied), nil when there is none.
	Loaded bool
	Record *Record
}

// matches reports whether p holds the read of record id of c.
func (p *Prefetch) matches(c *base.Collection, id string) bool {
	return p != nil && p.Loaded && p.Collection == c && p.ID == id
}

// usersCollection returns the users collection of s.Schema.
func (s *Service) usersCollection(id *base.Identity) (*base.Collection, error) {
	c := s.Schema.Collection(base.UsersCollection)
	if c == nil {
		return nil, fmt.Errorf("org %s has no users collection", id.Org)
	}
	return c, nil
}

// ensureUser upserts id's mirror record of c, cur being the record read
// outside a transaction (nil: none).
func (s *Service) ensureUser(ctx context.Context, db store.DB, id *base.Identity, c *base.Collection, cur *Record) ([]base.Event, error) {
	want := mirrorValues(id.Claims)
	if cur != nil && sameMirror(cur, want) {
		return nil, nil
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return nil, classify(fmt.Errorf("begin users mirror: %w", err))
	}
	defer tx.Rollback()
	cur, err = s.loadByID(ctx, tx, c, id.UserID, "", nil)
	if err != nil {
		return nil, err
	}
	now := base.FormatTime(s.Now())
	req := &Request{Identity: id}
	var ev base.Event
	if cur == nil {
		data := make(map[string]any, len(c.Fields))
		for _, f := range c.Fields {
			data[f.Name] = Zero(f)
		}
		for k, v := range want {
			if c.Field(k) != nil {
				data[k] = v
			}
		}
		data["id"] = id.UserID
		for _, f := range c.Fields {
			if f.Type == base.FieldAutodate {
				data[f.Name] = now
			}
		}
		rec := &Record{Collection: c, Data: data}
		if err := s.insert(ctx, tx, rec); err != nil {
			return nil, classify(fmt.Errorf("insert users mirror: %w", err))
		}
		ev = s.event(req, base.ActionCreate, rec)
	} else {
		if sameMirror(cur, want) {
			return nil, nil
		}
		for k, v := range want {
			if c.Field(k) != nil {
				cur.Data[k] = v
			}
		}
		for _, f := range c.Fields {
			if f.Type == base.FieldAutodate && f.OnUpdate {
				cur.Data[f.Name] = now
			}
		}
		if err := s.update(ctx, tx, cur); err != nil {
			return nil, classify(fmt.Errorf("update users mirror: %w", err))
		}
		ev = s.event(req, base.ActionUpdate, cur)
	}
	if err := tx.Commit(); err != nil {
		return nil, classify(fmt.Errorf("commit users mirror: %w", err))
	}
	return []base.Event{ev}, nil
}

func sameMirror(cur *Record, want map[string]any) bool {
	for k, v := range want {
		if cur.Collection.Field(k) == nil {
			continue
		}
		if cur.Get(k) != v {
			return false
		}
	}
	return true
}
