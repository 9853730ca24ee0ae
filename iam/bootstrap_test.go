package iam_test

import (
	"net/url"
	"testing"

	"github.com/hanzoai/base/iam"
)

// TestBootstrapPlatformAdmin: Config.Admin (cmd/iam's IAM_ADMIN_*) creates
// a platform admin whose tokens carry isGlobalAdmin and open the
// platform-only admin API; a restart with other values changes nothing.
func TestBootstrapPlatformAdmin(t *testing.T) {
	st := openTestStore(t)
	admin := func(pw string) func(*iam.Config) {
		return func(c *iam.Config) {
			c.Admin = iam.BootstrapAdmin{Username: "root", Password: pw, Email: "root@example.test"}
		}
	}
	ti := newTestIAMOn(t, st, admin("root-password"))
	u, err := ti.User(t.Context(), "built-in", "root")
	if err != nil || !u.IsGlobalAdmin || !u.IsAdmin || u.Email != "root@example.test" {
		t.Fatalf("bootstrap admin: %+v %v", u, err)
	}
	if _, err := ti.CreateApplication(t.Context(), iam.Application{Org: "built-in", ClientID: "console", ClientSecret: "console-secret",
		GrantTypes: []string{iam.GrantPassword}}); err != nil {
		t.Fatal(err)
	}
	grant := func(ti *testIAM, pw string) (int, map[string]any) {
		return ti.token(t, url.Values{"grant_type": {"password"}, "username": {"root"}, "password": {pw}}, "Authorization", basic("console", "console-secret"))
	}
	st1, tok := grant(ti, "root-password")
	if st1 != 200 {
		t.Fatalf("admin password grant: %d %v", st1, tok)
	}
	if c := payload(t, tok["access_token"].(string)); c["isGlobalAdmin"] != true || c["sub"] != "built-in/root" {
		t.Fatalf("admin claims %v", c)
	}
	f := &adminFixture{testIAM: ti}
	if st, m := f.call(t, "GET", "/v1/iam/admin/orgs", tok["access_token"].(string), nil); st != 200 {
		t.Fatalf("platform-only admin route: %d %v", st, m)
	}
	// A second instance on the store with another password: create-only.
	other := newTestIAMOn(t, st, admin("other-password"))
	if st, _ := grant(other, "other-password"); st != 400 {
		t.Fatalf("bootstrap overwrote the admin's password: %d", st)
	}
	if st, _ := grant(other, "root-password"); st != 200 {
		t.Fatalf("admin's password lost: %d", st)
	}
}
