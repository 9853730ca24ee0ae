package iam_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hanzoai/base/iam"
)

// adminFixture is the test IAM with: acme (alice: org admin, bob: member,
// root: platform admin, web: confidential client allowing the password
// grant) and beta (bea: org admin, client "beta-app").
type adminFixture struct {
	*testIAM
	root, alice, bob, bea string // access tokens
}

func newAdminFixture(t *testing.T, mut ...func(*iam.Config)) *adminFixture {
	t.Helper()
	ti := newTestIAM(t, mut...)
	ctx := t.Context()
	must := func(created bool, err error) {
		t.Helper()
		if err != nil || !created {
			t.Fatalf("fixture: %v %v", created, err)
		}
	}
	must(ti.CreateUser(ctx, iam.User{Org: "acme", Username: "root", Password: "root-password", IsGlobalAdmin: true}))
	must(ti.CreateOrg(ctx, iam.Org{Name: "beta"}))
	must(ti.CreateApplication(ctx, iam.Application{Org: "beta", ClientID: "beta-app", ClientSecret: "beta-secret",
		GrantTypes: []string{iam.GrantPassword, iam.GrantRefreshToken, iam.GrantClientCredentials}}))
	must(ti.CreateUser(ctx, iam.User{Org: "beta", Username: "bea", Password: "bea-password", IsAdmin: true}))
	f := &adminFixture{testIAM: ti}
	f.root = f.password(t, "web", "web-secret", "root", "root-password")["access_token"].(string)
	f.alice = f.password(t, "web", "web-secret", "alice", "alice-password")["access_token"].(string)
	f.bob = f.password(t, "web", "web-secret", "bob", "bob-password")["access_token"].(string)
	f.bea = f.password(t, "beta-app", "beta-secret", "bea", "bea-password")["access_token"].(string)
	return f
}

// password runs the password grant and returns the token response.
func (f *adminFixture) password(t *testing.T, client, secret, user, pass string) map[string]any {
	t.Helper()
	st, m := f.passwordTry(t, client, secret, user, pass)
	if st != 200 {
		t.Fatalf("password grant %s/%s: %d %v", client, user, st, m)
	}
	return m
}

func (f *adminFixture) passwordTry(t *testing.T, client, secret, user, pass string) (int, map[string]any) {
	t.Helper()
	return f.token(t, url.Values{"grant_type": {"password"}, "username": {user}, "password": {pass},
		"scope": {"openid profile email offline_access"}}, "Authorization", basic(client, secret))
}

// refresh runs the refresh grant.
func (f *adminFixture) refresh(t *testing.T, client, secret, rt string) (int, map[string]any) {
	t.Helper()
	return f.token(t, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "Authorization", basic(client, secret))
}

// active introspects tok as client.
func (f *adminFixture) active(t *testing.T, client, secret, tok string) bool {
	t.Helper()
	_, body := f.do(t, "POST", iam.PathIntrospect, url.Values{"token": {tok}}, "Authorization", basic(client, secret))
	return jsonOf(t, body)["active"] == true
}

// call sends a JSON request with token (none when empty) and returns the
// status and the envelope.
func (f *adminFixture) call(t *testing.T, method, path, token string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	m := jsonOf(t, b)
	if resp.StatusCode < 300 && m["status"] != "ok" || resp.StatusCode >= 300 && m["status"] != "error" && resp.StatusCode != 404 {
		t.Errorf("%s %s: %d with envelope %v", method, path, resp.StatusCode, m)
	}
	return resp.StatusCode, m
}

// ok calls and fails the test unless the status is 200 or 201.
func (f *adminFixture) ok(t *testing.T, method, path, token string, body any) map[string]any {
	t.Helper()
	st, m := f.call(t, method, path, token, body)
	if st != 200 && st != 201 {
		t.Fatalf("%s %s: %d %v", method, path, st, m)
	}
	return m
}

// TestAdminAuthz checks every admin route: no token 401, a non-admin 403,
// an org admin of another org 403, and the platform-only routes refuse org
// admins.
func TestAdminAuthz(t *testing.T) {
	f := newAdminFixture(t)
	routes := []struct {
		method, path string
		body         any
		platformOnly bool
	}{
		{"GET", "/v1/iam/admin/orgs/acme", nil, false},
		{"PATCH", "/v1/iam/admin/orgs/acme", map[string]any{"displayName": "X"}, false},
		{"DELETE", "/v1/iam/admin/orgs/acme", nil, true},
		{"GET", "/v1/iam/admin/orgs/acme/applications/web", nil, false},
		{"PATCH", "/v1/iam/admin/orgs/acme/applications/web", map[string]any{"displayName": "W"}, false},
		{"DELETE", "/v1/iam/admin/orgs/acme/applications/web", nil, false},
		{"POST", "/v1/iam/admin/orgs/acme/applications/web/secret", nil, false},
		{"GET", "/v1/iam/admin/orgs/acme/users/bob", nil, false},
		{"PATCH", "/v1/iam/admin/orgs/acme/users/bob", map[string]any{"displayName": "B"}, false},
		{"DELETE", "/v1/iam/admin/orgs/acme/users/bob", nil, false},
		{"POST", "/v1/iam/admin/orgs/acme/users/bob/password", map[string]any{"password": "new-password-1"}, false},
		{"PUT", "/v1/iam/admin/orgs/acme/users/bob/roles/editor", nil, false},
		{"DELETE", "/v1/iam/admin/orgs/acme/users/bob/roles/editor", nil, false},
		{"GET", "/v1/iam/admin/orgs/acme/roles", nil, false},
		{"POST", "/v1/iam/admin/orgs/acme/roles", map[string]any{"name": "editor"}, false},
		{"GET", "/v1/iam/admin/orgs/acme/roles/editor", nil, false},
		{"PATCH", "/v1/iam/admin/orgs/acme/roles/editor", map[string]any{"permissions": []string{"a"}}, false},
		{"DELETE", "/v1/iam/admin/orgs/acme/roles/editor", nil, false},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			if st, _ := f.call(t, rt.method, rt.path, "", rt.body); st != 401 {
				t.Errorf("no token: %d, want 401", st)
			}
			if st, _ := f.call(t, rt.method, rt.path, "not-a-token", rt.body); st != 401 {
				t.Errorf("garbage token: %d, want 401", st)
			}
			if st, _ := f.call(t, rt.method, rt.path, f.bob, rt.body); st != 403 {
				t.Errorf("non-admin: %d, want 403", st)
			}
			if st, _ := f.call(t, rt.method, rt.path, f.bea, rt.body); st != 403 {
				t.Errorf("admin of beta on acme: %d, want 403", st)
			}
			if rt.platformOnly {
				if st, _ := f.call(t, rt.method, rt.path, f.alice, rt.body); st != 403 {
					t.Errorf("org admin on a platform route: %d, want 403", st)
				}
			}
		})
	}
	// Alice administers acme, not beta.
	f.ok(t, "GET", "/v1/iam/admin/orgs/acme/users/bob", f.alice, nil)
	if st, _ := f.call(t, "GET", "/v1/iam/admin/orgs/beta/users/bea", f.alice, nil); st != 403 {
		t.Errorf("alice reads beta's user: %d", st)
	}
	if st, _ := f.call(t, "POST", "/v1/iam/admin/orgs/beta/users/bea/password", f.alice, map[string]any{"password": "pwned-password"}); st != 403 {
		t.Errorf("alice resets beta's admin: %d", st)
	}
	// An org admin cannot touch a platform admin of its org, nor mint one.
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", "/v1/iam/admin/orgs/acme/users/root", map[string]any{"displayName": "R"}},
		{"POST", "/v1/iam/admin/orgs/acme/users/root/password", map[string]any{"password": "taken-over-1"}},
		{"DELETE", "/v1/iam/admin/orgs/acme/users/root", nil},
		{"PATCH", "/v1/iam/admin/orgs/acme/users/bob", map[string]any{"isGlobalAdmin": true}},
		{"PATCH", "/v1/iam/admin/orgs/acme/users/bob", map[string]any{"orgs": []map[string]string{{"org": "beta", "role": "admin"}}}},
		{"POST", "/v1/iam/admin/orgs/acme/users", map[string]any{"name": "mallory", "isGlobalAdmin": true}},
		{"POST", "/v1/iam/admin/orgs/acme/users", map[string]any{"name": "mallory", "orgs": []map[string]string{{"org": "beta", "role": "admin"}}}},
		{"PATCH", "/v1/iam/admin/orgs/acme", map[string]any{"domains": []string{"beta.example"}}},
	} {
		if st, m := f.call(t, c.method, c.path, f.alice, c.body); st != 403 {
			t.Errorf("alice %s %s: %d %v, want 403", c.method, c.path, st, m)
		}
	}
	// The platform admin may do all of it anywhere.
	f.ok(t, "GET", "/v1/iam/admin/orgs/beta/users/bea", f.root, nil)
	f.ok(t, "PATCH", "/v1/iam/admin/orgs/acme/users/bob", f.root, map[string]any{"orgs": []map[string]string{{"org": "beta", "role": "member"}}})
	f.ok(t, "PATCH", "/v1/iam/admin/orgs/beta", f.root, map[string]any{"domains": []string{"beta.example"}})
}

func TestAdminOrgUpdateAndDelete(t *testing.T) {
	f := newAdminFixture(t)
	m := f.ok(t, "PATCH", "/v1/iam/admin/orgs/acme", f.alice, map[string]any{"displayName": "Acme Corp", "themeColor": "#112233", "passwordMinLength": 10})
	if d := m["data"].(map[string]any); d["displayName"] != "Acme Corp" || d["themeColor"] != "#112233" || d["passwordMinLength"] != float64(10) {
		t.Fatalf("updated org %v", d)
	}
	if o, _ := f.Org(t.Context(), "acme"); o.DisplayName != "Acme Corp" {
		t.Fatalf("stored org %+v", o)
	}
	for _, bad := range []map[string]any{{"themeColor": "red;}body{x"}, {"mfa": "sometimes"}, {"passwordMinLength": 0}, {"logo": "https://evil.example/x.png"}} {
		if st, m := f.call(t, "PATCH", "/v1/iam/admin/orgs/acme", f.alice, bad); st != 400 {
			t.Errorf("PATCH %v: %d %v, want 400", bad, st, m)
		}
	}
	if st, _ := f.call(t, "PATCH", "/v1/iam/admin/orgs/acme", f.alice, map[string]any{"nope": 1}); st != 400 {
		t.Errorf("unknown field: %d", st)
	}
	if st, _ := f.call(t, "PATCH", "/v1/iam/admin/orgs/ghost", f.root, map[string]any{"displayName": "G"}); st != 404 {
		t.Errorf("unknown org: %d", st)
	}
	// Domains are unique across orgs.
	f.ok(t, "PATCH", "/v1/iam/admin/orgs/acme", f.root, map[string]any{"domains": []string{"Login.Acme.Example:443"}})
	if o, _ := f.OrgByHost(t.Context(), "login.acme.example"); o == nil || o.Name != "acme" {
		t.Fatalf("OrgByHost = %+v", o)
	}
	if st, _ := f.call(t, "PATCH", "/v1/iam/admin/orgs/beta", f.root, map[string]any{"domains": []string{"login.acme.example"}}); st != 409 {
		t.Errorf("a domain of another org: %d, want 409", st)
	}

	// Deleting beta deletes its app, users and tokens; alice (of acme, a
	// member of beta) loses the membership and her refresh token.
	bea := f.password(t, "beta-app", "beta-secret", "bea", "bea-password")
	alice := f.password(t, "web", "web-secret", "alice", "alice-password")
	f.ok(t, "DELETE", "/v1/iam/admin/orgs/beta", f.root, nil)
	if st, _ := f.call(t, "GET", "/v1/iam/admin/orgs/beta", f.root, nil); st != 404 {
		t.Errorf("deleted org readable: %d", st)
	}
	if _, err := f.User(t.Context(), "beta", "bea"); err == nil {
		t.Error("beta's user survived")
	}
	if _, err := f.Application(t.Context(), "beta-app"); err == nil {
		t.Error("beta's application survived")
	}
	resp, _ := f.do(t, "GET", iam.PathUserinfo, nil, "Authorization", "Bearer "+bea["access_token"].(string))
	if resp.StatusCode != 401 {
		t.Errorf("userinfo with a deleted org's token: %d", resp.StatusCode)
	}
	a, err := f.User(t.Context(), "acme", "alice")
	if err != nil || len(a.Orgs) != 0 {
		t.Errorf("alice's memberships after beta's deletion: %+v %v", a, err)
	}
	if st, m := f.refresh(t, "web", "web-secret", alice["refresh_token"].(string)); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("alice's refresh token listing beta: %d %v", st, m)
	}
	if f.active(t, "web", "web-secret", alice["access_token"].(string)) {
		t.Error("alice's access token listing beta is active")
	}
	// The name is free again, as a new, empty org.
	f.ok(t, "POST", "/v1/iam/admin/orgs", f.root, map[string]any{"name": "beta"})
	if users, _ := f.Users(t.Context(), "beta"); len(users) != 0 {
		t.Errorf("recreated beta has users %v", users)
	}
}

func TestAdminApplications(t *testing.T) {
	f := newAdminFixture(t)
	m := f.ok(t, "PATCH", "/v1/iam/admin/orgs/acme/applications/spa", f.alice, map[string]any{
		"displayName": "The SPA", "redirectUris": []string{"https://new.example/cb"}, "accessTokenTtl": 600})
	if d := m["data"].(map[string]any); d["displayName"] != "The SPA" || d["clientSecret"] != nil {
		t.Fatalf("updated app %v", d)
	}
	a, _ := f.Application(t.Context(), "spa")
	if !slices.Equal(a.RedirectURIs, []string{"https://new.example/cb"}) || a.AccessTTL.Seconds() != 600 {
		t.Fatalf("stored app %+v", a)
	}
	for _, bad := range []map[string]any{{"grantTypes": []string{"implicit"}}, {"redirectUris": []string{"no-scheme"}}, {"accessTokenTtl": 1}, {"name": ""}} {
		if st, m := f.call(t, "PATCH", "/v1/iam/admin/orgs/acme/applications/spa", f.alice, bad); st != 400 {
			t.Errorf("PATCH %v: %d %v", bad, st, m)
		}
	}
	if st, _ := f.call(t, "PATCH", "/v1/iam/admin/orgs/acme/applications/spa", f.alice, map[string]any{"name": "web"}); st != 409 {
		t.Errorf("duplicate name: %d, want 409", st)
	}
	// An application of another org is not found through this org.
	if st, _ := f.call(t, "GET", "/v1/iam/admin/orgs/acme/applications/beta-app", f.alice, nil); st != 404 {
		t.Errorf("beta's app through acme: %d", st)
	}
	if st, _ := f.call(t, "DELETE", "/v1/iam/admin/orgs/acme/applications/beta-app", f.alice, nil); st != 404 {
		t.Errorf("delete beta's app through acme: %d", st)
	}

	// Secret rotation: the old secret stops working at once.
	m = f.ok(t, "POST", "/v1/iam/admin/orgs/acme/applications/web/secret", f.alice, nil)
	secret, _ := m["data"].(map[string]any)["clientSecret"].(string)
	if len(secret) < 40 {
		t.Fatalf("rotated secret %q", secret)
	}
	cc := func(secret string) int {
		st, _ := f.token(t, url.Values{"grant_type": {"client_credentials"}}, "Authorization", basic("web", secret))
		return st
	}
	if st := cc("web-secret"); st != 401 {
		t.Errorf("old secret: %d, want 401", st)
	}
	if st := cc(secret); st != 200 {
		t.Errorf("new secret: %d", st)
	}
	if st, _ := f.call(t, "POST", "/v1/iam/admin/orgs/acme/applications/spa/secret", f.alice, nil); st != 400 {
		t.Errorf("rotating a public client's secret: %d, want 400", st)
	}

	// Deleting an application kills its tokens.
	bob := f.password(t, "web", secret, "bob", "bob-password")
	f.ok(t, "DELETE", "/v1/iam/admin/orgs/acme/applications/web", f.alice, nil)
	if _, err := f.Application(t.Context(), "web"); err == nil {
		t.Fatal("deleted application readable")
	}
	if st, _ := f.refresh(t, "web", secret, bob["refresh_token"].(string)); st != 401 {
		t.Errorf("refresh with a deleted client: %d", st)
	}
	resp, _ := f.do(t, "GET", iam.PathUserinfo, nil, "Authorization", "Bearer "+bob["access_token"].(string))
	if resp.StatusCode != 401 {
		t.Errorf("userinfo with a deleted client's token: %d", resp.StatusCode)
	}
}

func TestAdminUsers(t *testing.T) {
	f := newAdminFixture(t)
	bob := f.password(t, "web", "web-secret", "bob", "bob-password")
	m := f.ok(t, "PATCH", "/v1/iam/admin/orgs/acme/users/bob", f.alice, map[string]any{"displayName": "Bob B", "email": "bob@acme.example"})
	if d := m["data"].(map[string]any); d["displayName"] != "Bob B" || d["password"] != nil || d["disabled"] != false {
		t.Fatalf("updated user %v", d)
	}
	// A profile change keeps the tokens; the next refresh carries it.
	st, r := f.refresh(t, "web", "web-secret", bob["refresh_token"].(string))
	if st != 200 || payload(t, r["access_token"].(string))["name"] != "Bob B" {
		t.Fatalf("refresh after a profile change: %d %v", st, r)
	}
	bob = r

	// Disabling revokes at once and blocks sign-in; enabling restores it.
	f.ok(t, "PATCH", "/v1/iam/admin/orgs/acme/users/bob", f.alice, map[string]any{"disabled": true})
	if f.active(t, "web", "web-secret", bob["access_token"].(string)) || f.active(t, "web", "web-secret", bob["refresh_token"].(string)) {
		t.Error("a disabled user's tokens are active")
	}
	if st, m := f.refresh(t, "web", "web-secret", bob["refresh_token"].(string)); st != 400 || m["error"] != "invalid_grant" {
		t.Errorf("refresh of a disabled user: %d %v", st, m)
	}
	if st, _ := f.passwordTry(t, "web", "web-secret", "bob", "bob-password"); st != 400 {
		t.Errorf("sign-in of a disabled user: %d", st)
	}
	m = f.ok(t, "GET", "/v1/iam/admin/orgs/acme/users/bob", f.alice, nil)
	if m["data"].(map[string]any)["disabled"] != true {
		t.Errorf("GET disabled user %v", m["data"])
	}
	f.ok(t, "PATCH", "/v1/iam/admin/orgs/acme/users/bob", f.alice, map[string]any{"disabled": false})
	bob = f.password(t, "web", "web-secret", "bob", "bob-password")

	// Password reset: the old password and the old tokens stop working.
	if st, _ := f.call(t, "POST", "/v1/iam/admin/orgs/acme/users/bob/password", f.alice, map[string]any{"password": "short"}); st != 400 {
		t.Errorf("too short a password: %d", st)
	}
	f.ok(t, "POST", "/v1/iam/admin/orgs/acme/users/bob/password", f.alice, map[string]any{"password": "bob-new-password"})
	if st, _ := f.passwordTry(t, "web", "web-secret", "bob", "bob-password"); st != 400 {
		t.Errorf("old password after reset: %d", st)
	}
	if f.active(t, "web", "web-secret", bob["refresh_token"].(string)) {
		t.Error("refresh token active after a password reset")
	}
	bob = f.password(t, "web", "web-secret", "bob", "bob-new-password")

	// Delete: the user and its tokens are gone.
	f.ok(t, "DELETE", "/v1/iam/admin/orgs/acme/users/bob", f.alice, nil)
	if st, _ := f.call(t, "GET", "/v1/iam/admin/orgs/acme/users/bob", f.alice, nil); st != 404 {
		t.Errorf("deleted user: %d", st)
	}
	if f.active(t, "web", "web-secret", bob["access_token"].(string)) || f.active(t, "web", "web-secret", bob["refresh_token"].(string)) {
		t.Error("a deleted user's tokens are active")
	}
	if st, _ := f.call(t, "DELETE", "/v1/iam/admin/orgs/acme/users/bob", f.alice, nil); st != 404 {
		t.Errorf("second delete: %d", st)
	}
	// Recreating the name does not revive the old tokens.
	f.ok(t, "POST", "/v1/iam/admin/orgs/acme/users", f.alice, map[string]any{"name": "bob", "password": "bob-password-2"})
	if st, _ := f.refresh(t, "web", "web-secret", bob["refresh_token"].(string)); st != 400 {
		t.Errorf("old refresh token after recreation: %d", st)
	}
	list := f.ok(t, "GET", "/v1/iam/admin/orgs/acme/users", f.alice, nil)["data"].([]any)
	if len(list) != 3 {
		t.Errorf("users %v", list)
	}

	// Every change is in the audit log, attributed to the admin.
	if err := f.FlushAudit(t.Context()); err != nil {
		t.Fatal(err)
	}
	entries, err := f.Audit(t.Context(), "acme", 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, e := range entries {
		if strings.HasPrefix(e.Event, "admin.") {
			if e.Username != "acme/alice" || e.Result != "ok" || e.Detail == "" {
				t.Errorf("audit row %+v", e)
			}
			seen[e.Event]++
		}
	}
	for ev, n := range map[string]int{"admin.user.update": 3, "admin.user.password_reset": 1, "admin.user.delete": 1, "admin.user.create": 1} {
		if seen[ev] != n {
			t.Errorf("audit has %d %s rows, want %d (%v)", seen[ev], ev, n, seen)
		}
	}
}

func TestAdminRoles(t *testing.T) {
	f := newAdminFixture(t)
	f.ok(t, "POST", "/v1/iam/admin/orgs/acme/roles", f.alice, map[string]any{"name": "editor", "permissions": []string{"records:write", "records:read"}})
	if st, _ := f.call(t, "POST", "/v1/iam/admin/orgs/acme/roles", f.alice, map[string]any{"name": "editor"}); st != 409 {
		t.Errorf("duplicate role: %d", st)
	}
	for _, bad := range []map[string]any{{"name": "has space"}, {"name": "x", "permissions": []string{"a b"}}} {
		if st, _ := f.call(t, "POST", "/v1/iam/admin/orgs/acme/roles", f.alice, bad); st != 400 {
			t.Errorf("role %v: %d, want 400", bad, st)
		}
	}
	f.ok(t, "POST", "/v1/iam/admin/orgs/acme/roles", f.alice, map[string]any{"name": "viewer", "permissions": []string{"records:read"}})
	if st, _ := f.call(t, "PUT", "/v1/iam/admin/orgs/acme/users/bob/roles/ghost", f.alice, nil); st != 404 {
		t.Errorf("assign a missing role: %d", st)
	}
	if st, _ := f.call(t, "PATCH", "/v1/iam/admin/orgs/acme/users/bob", f.alice, map[string]any{"roles": []string{"ghost"}}); st != 400 {
		t.Errorf("PATCH a missing role: %d", st)
	}
	f.ok(t, "PUT", "/v1/iam/admin/orgs/acme/users/bob/roles/editor", f.alice, nil)
	f.ok(t, "PUT", "/v1/iam/admin/orgs/acme/users/bob/roles/editor", f.alice, nil) // idempotent
	bob := f.password(t, "web", "web-secret", "bob", "bob-password")
	c := payload(t, bob["access_token"].(string))
	orgs, _ := json.Marshal(c["orgs"])
	roles, _ := json.Marshal(c["roles"])
	perms, _ := json.Marshal(c["permissions"])
	if string(orgs) != `[{"org":"acme","role":"editor"}]` || string(roles) != `["editor"]` || string(perms) != `["records:write","records:read"]` {
		t.Fatalf("claims orgs=%s roles=%s permissions=%s", orgs, roles, perms)
	}
	// New permissions reach the next refresh.
	f.ok(t, "PATCH", "/v1/iam/admin/orgs/acme/roles/editor", f.alice, map[string]any{"permissions": []string{"records:write", "files:write"}})
	st, r := f.refresh(t, "web", "web-secret", bob["refresh_token"].(string))
	if st != 200 {
		t.Fatalf("refresh: %d %v", st, r)
	}
	if perms, _ := json.Marshal(payload(t, r["access_token"].(string))["permissions"]); string(perms) != `["records:write","files:write"]` {
		t.Errorf("permissions after the role changed: %s", perms)
	}
	m := f.ok(t, "GET", "/v1/iam/admin/orgs/acme/roles", f.alice, nil)
	if list := m["data"].([]any); len(list) != 2 {
		t.Errorf("roles %v", list)
	}
	// Taking a role away revokes the tokens carrying it.
	f.ok(t, "DELETE", "/v1/iam/admin/orgs/acme/users/bob/roles/editor", f.alice, nil)
	if st, _ := f.refresh(t, "web", "web-secret", r["refresh_token"].(string)); st != 400 {
		t.Errorf("refresh after the role was taken: %d", st)
	}
	// Deleting a role takes it from its users.
	f.ok(t, "PATCH", "/v1/iam/admin/orgs/acme/users/bob", f.alice, map[string]any{"roles": []string{"viewer", "editor"}})
	f.ok(t, "DELETE", "/v1/iam/admin/orgs/acme/roles/editor", f.alice, nil)
	u, _ := f.User(t.Context(), "acme", "bob")
	if !slices.Equal(u.Roles, []string{"viewer"}) {
		t.Errorf("bob's roles after deleting editor: %v", u.Roles)
	}
	if st, _ := f.call(t, "GET", "/v1/iam/admin/orgs/acme/roles/editor", f.alice, nil); st != 404 {
		t.Errorf("deleted role: %d", st)
	}
	if err := f.FlushAudit(t.Context()); err != nil {
		t.Fatal(err)
	}
	entries, _ := f.Audit(t.Context(), "acme", 1000)
	seen := map[string]int{}
	for _, e := range entries {
		seen[e.Event]++
	}
	for ev, n := range map[string]int{"admin.role.create": 2, "admin.role.assign": 2, "admin.role.update": 1, "admin.role.unassign": 1, "admin.role.delete": 1} {
		if seen[ev] != n {
			t.Errorf("audit has %d %s rows, want %d (%v)", seen[ev], ev, n, seen)
		}
	}
}
