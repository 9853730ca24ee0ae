package iam_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hanzoai/base/iam"
)

// amrOf returns the amr claim of an ID token ("" when absent).
func amrOf(t testing.TB, idToken string) string {
	t.Helper()
	v, ok := payload(t, idToken)["amr"]
	if !ok {
		return ""
	}
	var out []string
	for _, m := range v.([]any) {
		out = append(out, m.(string))
	}
	return strings.Join(out, " ")
}

// TestAMR: ID tokens say how the user signed in (RFC 8176): pwd for a
// password, hwk/swk for a device-bound/synced passkey, mfa for two
// factors; refreshes and SSO sign-ins keep the method of the sign-in.
func TestAMR(t *testing.T) {
	ti := localhostIAM(t)

	// Password on the login page; a refresh and an SSO sign-in keep it.
	verifier, challenge := pkcePair("amr-pwd")
	browser := freshClient()
	resp, _ := ti.passwordStep(t, browser, authzQuery(challenge), "bob", "bob-password")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	tok := ti.exchange(t, loc.Query().Get("code"), verifier)
	if got := amrOf(t, tok["id_token"].(string)); got != "pwd" {
		t.Errorf("password login: amr %q", got)
	}
	if st, r := ti.token(t, url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {tok["refresh_token"].(string)}}); st != 200 || amrOf(t, r["id_token"].(string)) != "pwd" {
		t.Errorf("refresh: %d amr %q", st, amrOf(t, r["id_token"].(string)))
	}
	verifier, challenge = pkcePair("amr-sso")
	resp, err := browser.Get(ti.URL + iam.PathAuthorize + "?" + authzQuery(challenge).Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if got := amrOf(t, ti.exchange(t, loc.Query().Get("code"), verifier)["id_token"].(string)); got != "pwd" {
		t.Errorf("SSO sign-in: amr %q", got)
	}
	// Password grant.
	if st, r := ti.token(t, url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"bob-password"}, "scope": {"openid"}},
		"Authorization", basic("web", "web-secret")); st != 200 || amrOf(t, r["id_token"].(string)) != "pwd" {
		t.Errorf("password grant: %d %v", st, r)
	}

	// Passkeys: alice's is device-bound, bob's synced.
	hw := newAuthenticator(ti.origin())
	ti.registerPasskey(t, freshClient(), hw, "alice", "alice-password")
	sw := newAuthenticator(ti.origin())
	sw.synced = true
	ti.registerPasskey(t, freshClient(), sw, "bob", "bob-password")
	for _, tt := range []struct {
		auth *authenticator
		want string
	}{{hw, "hwk mfa"}, {sw, "swk mfa"}} {
		verifier, challenge := pkcePair("amr-" + tt.want)
		b := freshClient()
		id, opts := ti.begin(t, b, iam.PathWebAuthnLoginBegin+"?"+authzQuery(challenge).Encode(), "get")
		st, m := ti.api(t, b, "POST", iam.PathWebAuthnLoginFinish, map[string]any{"ceremony": id, "credential": tt.auth.get(t, opts, nil)})
		if st != 200 {
			t.Fatalf("passkey login: %d %v", st, m)
		}
		if got := amrOf(t, ti.exchange(t, codeFromRedirect(t, m), verifier)["id_token"].(string)); got != tt.want {
			t.Errorf("passwordless: amr %q, want %q", got, tt.want)
		}
	}
	// Password, then the passkey as a second factor.
	verifier, challenge = pkcePair("amr-2fa")
	b := freshClient()
	ti.passwordStep(t, b, authzQuery(challenge), "alice", "alice-password")
	id, opts := ti.begin(t, b, iam.PathWebAuthnMFABegin, "get")
	st, m := ti.api(t, b, "POST", iam.PathWebAuthnMFAFinish, map[string]any{"ceremony": id, "credential": hw.get(t, opts, nil)})
	if st != 200 {
		t.Fatalf("second factor: %d %v", st, m)
	}
	if got := amrOf(t, ti.exchange(t, codeFromRedirect(t, m), verifier)["id_token"].(string)); got != "pwd hwk mfa" {
		t.Errorf("password + passkey: amr %q", got)
	}
	// Access tokens do not carry it (spec: standard claims only).
	if c := payload(t, tok["access_token"].(string)); c["amr"] != nil {
		t.Errorf("access token carries amr: %v", c["amr"])
	}
}

// TestAMRDeviceAndMigration: device-code tokens say pwd; a database made
// before the amr columns gets them on start, and its sessions still work.
func TestAMRDeviceAndMigration(t *testing.T) {
	st := openTestStore(t)
	old := newTestIAMOn(t, st)
	db, err := st.Acquire(t.Context(), iam.DefaultSystemOrg)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Release()
	for _, table := range []string{"iam_sessions", "iam_codes", "iam_grants"} {
		if _, err := db.ExecContext(t.Context(), "ALTER TABLE "+table+" DROP COLUMN amr"); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()
	ti := newTestIAMOn(t, st, func(c *iam.Config) { c.DeviceInterval = time.Second })
	_, body := ti.do(t, "POST", iam.PathDevice, url.Values{"client_id": {"spa"}, "scope": {"openid"}})
	da := jsonOf(t, body)
	if resp, _ := ti.do(t, "POST", iam.PathDevicePage, url.Values{"user_code": {da["user_code"].(string)}, "username": {"bob"}, "password": {"bob-password"}}); resp.StatusCode != 200 {
		t.Fatalf("device page: %d", resp.StatusCode)
	}
	stc, tok := ti.token(t, url.Values{"grant_type": {iam.GrantDeviceCode}, "client_id": {"spa"}, "device_code": {da["device_code"].(string)}})
	if stc != 200 || !slices.Equal(strings.Fields(amrOf(t, tok["id_token"].(string))), []string{"pwd"}) {
		t.Fatalf("device token: %d %v", stc, tok)
	}
	_, challenge := pkcePair("migrated")
	ti.login(t, "spa", "http://127.0.0.1:9999/cb", challenge, "alice", "alice-password")
}
