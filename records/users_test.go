package records_test

import (
	"testing"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/records"
	"github.com/hanzoai/base/rules"
	"github.com/hanzoai/base/store"
	"github.com/hanzoai/base/store/sqlite"
)

// TestLoadMirror reads the schema version and the users mirror record in
// one statement on SQLite and feeds the record to EnsureUserFrom: absent
// before the first request, then the stored record, whose refresh is an
// update event only when the claims changed.
func TestLoadMirror(t *testing.T) {
	ctx := t.Context()
	db, svc := acmeService(t)
	version := svc.Schema.Version
	id := &base.Identity{Org: "acme", Subject: "ann", UserID: base.UserRecordID("ann"), Claims: map[string]any{"sub": "ann", "name": "Ann", "email": "ann@acme.test"}}

	tests := []struct {
		name     string
		claims   map[string]any
		wantCur  string // name of the record read, "" for none
		wantEv   base.Action
		wantName string
	}{
		{"first request creates", map[string]any{"sub": "ann", "name": "Ann"}, "", base.ActionCreate, "Ann"},
		{"unchanged claims write nothing", map[string]any{"sub": "ann", "name": "Ann"}, "Ann", "", "Ann"},
		{"changed claims update", map[string]any{"sub": "ann", "name": "Ann B"}, "Ann", base.ActionUpdate, "Ann B"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, cur, err := svc.LoadMirror(ctx, db, id.UserID, nil)
			if err != nil {
				t.Fatal(err)
			}
			if v != version || v == 0 {
				t.Errorf("version %d, want %d (non-zero)", v, version)
			}
			switch {
			case tt.wantCur == "" && cur != nil:
				t.Fatalf("record %v, want none", cur.Data)
			case tt.wantCur != "" && (cur == nil || cur.Get("name") != tt.wantCur || cur.ID() != id.UserID):
				t.Fatalf("record %+v, want %s's named %q", cur, id.UserID, tt.wantCur)
			}
			id.Claims = tt.claims
			evs, err := svc.EnsureUserFrom(ctx, db, id, cur)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantEv == "" && len(evs) != 0 || tt.wantEv != "" && (len(evs) != 1 || evs[0].Action != tt.wantEv) {
				t.Errorf("events %+v, want %q", evs, tt.wantEv)
			}
			_, cur, err = svc.LoadMirror(ctx, db, id.UserID, nil)
			if err != nil || cur == nil || cur.Get("name") != tt.wantName {
				t.Errorf("after: %+v, %v; want named %q", cur, err, tt.wantName)
			}
		})
	}
}

// TestLoadMirrorPrefetch reads a record by id in LoadMirror's statement:
// the stored record when it exists (here the caller's own, under an alias
// of its own), nil when it does not, and the mirror read unchanged.
func TestLoadMirrorPrefetch(t *testing.T) {
	ctx := t.Context()
	db, svc := acmeService(t)
	version := svc.Schema.Version
	id := &base.Identity{Org: "acme", Subject: "ann", UserID: base.UserRecordID("ann"), Claims: map[string]any{"sub": "ann", "name": "Ann"}}
	if _, err := svc.EnsureUserFrom(ctx, db, id, nil); err != nil {
		t.Fatal(err)
	}
	users := svc.Schema.Collection(base.UsersCollection)
	for _, tt := range []struct {
		userID, preID string
		want          string // name of the prefetched record, "" for none
	}{
		{id.UserID, id.UserID, "Ann"},
		{"", id.UserID, "Ann"}, // a guest
		{id.UserID, "nosuchrecord00", ""},
	} {
		pre := &records.Prefetch{Collection: users, ID: tt.preID}
		v, cur, err := svc.LoadMirror(ctx, db, tt.userID, pre)
		if err != nil || v != version {
			t.Fatalf("LoadMirror(%q): version %d, %v", tt.userID, v, err)
		}
		if (cur != nil) != (tt.userID != "") {
			t.Errorf("LoadMirror(%q): mirror %+v", tt.userID, cur)
		}
		switch {
		case !pre.Loaded:
			t.Errorf("prefetch of %s not loaded", tt.preID)
		case tt.want == "" && pre.Record != nil:
			t.Errorf("prefetch of %s: %+v, want none", tt.preID, pre.Record.Data)
		case tt.want != "" && (pre.Record == nil || pre.Record.Get("name") != tt.want || pre.Record.ID() != tt.preID):
			t.Errorf("prefetch of %s: %+v, want named %q", tt.preID, pre.Record, tt.want)
		}
	}
}

// acmeService opens org "acme" on a fresh SQLite store (released when t
// ends) and a Service over its schema.
func acmeService(t *testing.T) (store.DB, *records.Service) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := st.Acquire(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Release)
	version, err := store.SchemaVersion(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := store.LoadCollections(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	return db, records.NewService(records.NewSchema(version, cols), db.Dialect(), rules.SQLite, nil)
}
