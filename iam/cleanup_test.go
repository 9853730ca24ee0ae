package iam_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hanzoai/base/iam"
	"github.com/hanzoai/base/jobs"
	"github.com/hanzoai/base/store/sqlite"
)

// iamRows counts the rows of the IAM's expiring tables.
func iamRows(tb testing.TB, st *sqlite.Store) map[string]int {
	tb.Helper()
	ctx := context.Background()
	db, err := st.Acquire(ctx, iam.DefaultSystemOrg)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Release()
	out := map[string]int{}
	for _, t := range []string{"iam_codes", "iam_refresh", "iam_grants", "iam_sessions", "iam_devices", "iam_throttle", "iam_users", "iam_apps"} {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+t).Scan(&n); err != nil {
			tb.Fatalf("count %s: %v", t, err)
		}
		out[t] = n
	}
	return out
}

// TestCleanupPurgesExpired creates IAM state through its real endpoints
// (a password grant with its refresh token, a device code, an SSO
// session, a failed login's throttle counter), then runs the cleanup job:
// nothing goes while it is live, everything goes once expired, and users
// and applications stay.
func TestCleanupPurgesExpired(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var offset atomic.Int64 // seconds
	srv, err := iam.New(ctx, iam.Config{
		Store:  st,
		Issuer: "http://iam.test",
		Argon2: iam.Argon2Params{Memory: 64, Time: 1, Threads: 1},
		Now:    func() time.Time { return time.Now().Add(time.Duration(offset.Load()) * time.Second) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.CreateOrg(ctx, iam.Org{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.CreateApplication(ctx, iam.Application{
		ClientID: "cli", Org: "acme", Name: "cli", ClientSecret: "cli-secret",
		RedirectURIs: []string{"https://cli.example/cb"},
		GrantTypes:   []string{iam.GrantPassword, iam.GrantRefreshToken, iam.GrantDeviceCode, iam.GrantAuthorizationCode},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.CreateUser(ctx, iam.User{Org: "acme", Username: "alice", Password: "alice-password"}); err != nil {
		t.Fatal(err)
	}

	post := func(path string, form url.Values, json string) int {
		t.Helper()
		var r *http.Request
		if json != "" {
			r = httptest.NewRequest(http.MethodPost, "http://iam.test"+path, strings.NewReader(json))
			r.Header.Set("Content-Type", "application/json")
		} else {
			r = httptest.NewRequest(http.MethodPost, "http://iam.test"+path, strings.NewReader(form.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.SetBasicAuth("cli", "cli-secret")
		}
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		return w.Code
	}
	if code := post(iam.PathToken, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"alice-password"}, "scope": {"openid offline_access"}}, ""); code != 200 {
		t.Fatalf("password grant: %d", code)
	}
	if code := post(iam.PathToken, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"wrong"}}, ""); code == 200 {
		t.Fatal("password grant with a wrong password succeeded")
	}
	if code := post(iam.PathDevice, url.Values{"scope": {"openid"}}, ""); code != 200 {
		t.Fatalf("device authorization: %d", code)
	}
	if code := post(iam.PathLogin, nil, `{"type":"login","organization":"acme","application":"cli","username":"alice","password":"alice-password"}`); code != 200 {
		t.Fatalf("login: %d", code)
	}
	before := iamRows(t, st)
	for _, tbl := range []string{"iam_refresh", "iam_grants", "iam_sessions", "iam_devices", "iam_throttle"} {
		if before[tbl] == 0 {
			t.Fatalf("no %s row after the flows; the test proves nothing (%v)", tbl, before)
		}
	}

	// Through the job, as every trigger runs it.
	reg := jobs.NewRegistry(nil)
	if err := reg.Add(jobs.IAMCleanup(func(context.Context) (jobs.Cleaner, error) { return srv, nil }, nil)); err != nil {
		t.Fatal(err)
	}
	if n, err := srv.Cleanup(ctx); err != nil || n != 0 {
		t.Fatalf("Cleanup with nothing expired = %d, %v; want 0", n, err)
	}
	if got := iamRows(t, st); !equalCounts(got, before) {
		t.Fatalf("rows changed with nothing expired: %v → %v", before, got)
	}

	// 31 days on: the refresh token (30 days), its grant, the session
	// (24 h), the device code (10 min) and the throttle window are over.
	offset.Store(int64((31 * 24 * time.Hour).Seconds()))
	if err := reg.Run(ctx, jobs.IAMCleanupID); err != nil {
		t.Fatal(err)
	}
	after := iamRows(t, st)
	for _, tbl := range []string{"iam_codes", "iam_refresh", "iam_grants", "iam_sessions", "iam_devices", "iam_throttle"} {
		if after[tbl] != 0 {
			t.Errorf("%s has %d rows after cleanup, want 0", tbl, after[tbl])
		}
	}
	if after["iam_users"] != before["iam_users"] || after["iam_apps"] != before["iam_apps"] {
		t.Errorf("cleanup touched users or apps: %v → %v", before, after)
	}
	if n, err := srv.Cleanup(ctx); err != nil || n != 0 {
		t.Errorf("second Cleanup = %d, %v; want 0", n, err)
	}
}

// TestCleanupCountsRows: the count is the number of rows deleted.
func TestCleanupCountsRows(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(sqlite.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var offset atomic.Int64
	srv, err := iam.New(ctx, iam.Config{Store: st, Issuer: "http://iam.test",
		Now: func() time.Time { return time.Now().Add(time.Duration(offset.Load()) * time.Second) }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if _, err := srv.CreateOrg(ctx, iam.Org{Name: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := srv.CreateApplication(ctx, iam.Application{ClientID: "tv", Org: "acme", Name: "tv", ClientSecret: "s",
		GrantTypes: []string{iam.GrantDeviceCode}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		r := httptest.NewRequest(http.MethodPost, "http://iam.test"+iam.PathDevice, strings.NewReader("scope=openid"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.SetBasicAuth("tv", "s")
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, r)
		if w.Code != 200 {
			t.Fatalf("device authorization: %d %s", w.Code, w.Body)
		}
	}
	offset.Store(3600)
	if n, err := srv.Cleanup(ctx); err != nil || n != 3 {
		t.Errorf("Cleanup = %d, %v; want 3 device codes", n, err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := srv.Cleanup(cancelled); err == nil {
		t.Error("Cleanup with a cancelled ctx succeeded")
	}
}

func equalCounts(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
