package records

import (
	"context"
	"fmt"

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
	c := s.Schema.Collection(base.UsersCollection)
	if c == nil {
		return nil, fmt.Errorf("org %s has no users collection", id.Org)
	}
	want := mirrorValues(id.Claims)
	cur, err := s.loadByID(ctx, db, c, id.UserID, "", nil)
	if err != nil {
		return nil, err
	}
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
