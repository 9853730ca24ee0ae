package iam_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hanzoai/base/iam"
)

// addSecureOrg creates the org "secure" (MFA required) with a public app
// "sec" and the user carol.
func addSecureOrg(t testing.TB, ti *testIAM) {
	t.Helper()
	ctx := t.Context()
	if _, err := ti.CreateOrg(ctx, iam.Org{Name: "secure", DisplayName: "Secure Co", MFA: iam.MFARequired}); err != nil {
		t.Fatal(err)
	}
	if _, err := ti.CreateApplication(ctx, iam.Application{ClientID: "sec", Org: "secure", RedirectURIs: []string{"http://127.0.0.1:9999/cb"},
		GrantTypes: []string{iam.GrantAuthorizationCode, iam.GrantRefreshToken, iam.GrantDeviceCode}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ti.CreateApplication(ctx, iam.Application{ClientID: "sec-web", Org: "secure", ClientSecret: "sec-secret",
		RedirectURIs: []string{"https://sec.example/cb"}, GrantTypes: []string{iam.GrantPassword}}); err != nil {
		t.Fatal(err)
	}
	if _, err := ti.CreateUser(ctx, iam.User{Org: "secure", Username: "carol", Password: "carol-password"}); err != nil {
		t.Fatal(err)
	}
}

// passwordStep posts the login form of client with user/password and
// returns the response (no redirect followed) and page.
func (ti *testIAM) passwordStep(t testing.TB, client *http.Client, q url.Values, user, password string) (*http.Response, string) {
	t.Helper()
	form := url.Values{}
	for k, v := range q {
		form[k] = v
	}
	form.Set("username", user)
	form.Set("password", password)
	req, _ := http.NewRequest("POST", ti.URL+iam.PathAuthorize, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func hasCookie(resp *http.Response, name string) bool {
	for _, c := range resp.Cookies() {
		if c.Name == name && c.Value != "" {
			return true
		}
	}
	return false
}

func passwordGrant(t testing.TB, ti *testIAM, clientID, secret, user, password string) (int, map[string]any) {
	t.Helper()
	return ti.token(t, url.Values{"grant_type": {"password"}, "client_id": {clientID}, "client_secret": {secret},
		"username": {user}, "password": {password}})
}

// TestMFARequired: under the required policy a password never completes a
// login: a user without a passkey enrols one first, then must use it.
func TestMFARequired(t *testing.T) {
	ti := localhostIAM(t)
	addSecureOrg(t, ti)
	auth := newAuthenticator(ti.origin())
	browser := freshClient()
	verifier, challenge := pkcePair("mfa-required")
	q := authzQueryFor("sec", challenge)

	resp, page := ti.passwordStep(t, browser, q, "carol", "carol-password")
	if resp.StatusCode != 200 || resp.Header.Get("Location") != "" || !strings.Contains(page, "Set up a passkey") ||
		hasCookie(resp, "iam_session") || !hasCookie(resp, "iam_mfa") {
		t.Fatalf("password under required MFA: %d loc=%q session=%v\n%s", resp.StatusCode, resp.Header.Get("Location"), hasCookie(resp, "iam_session"), page)
	}
	// No SSO session came of it.
	r2, err := browser.Get(ti.URL + iam.PathAuthorize + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != 200 {
		t.Fatalf("authorize after password only: %d, want the login page", r2.StatusCode)
	}
	// Non-interactive password flows are refused.
	if st, tok := passwordGrant(t, ti, "sec-web", "sec-secret", "carol", "carol-password"); st != 400 || tok["error"] != "invalid_grant" {
		t.Fatalf("password grant under required MFA: %d %v", st, tok)
	}
	// The device page cannot use a passkey: it refuses carol.
	resp, body := ti.do(t, "POST", iam.PathDevice, url.Values{"client_id": {"sec"}, "scope": {"openid"}})
	da := jsonOf(t, body)
	if resp.StatusCode != 200 {
		t.Fatalf("device authorization: %d %v", resp.StatusCode, da)
	}
	resp, body = ti.do(t, "POST", iam.PathDevicePage, url.Values{"user_code": {da["user_code"].(string)}, "username": {"carol"},
		"password": {"carol-password"}, "action": {"approve"}})
	if resp.StatusCode != 403 || strings.Contains(string(body), "connected") {
		t.Fatalf("device page under required MFA: %d %s", resp.StatusCode, body)
	}
	api := freshClient()
	body, _ = json.Marshal(map[string]string{"type": "code", "username": "carol", "password": "carol-password"})
	req, _ := http.NewRequest("POST", ti.URL+iam.PathLogin+"?"+q.Encode(), strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	lr, err := api.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	lb, _ := io.ReadAll(lr.Body)
	lr.Body.Close()
	if m := jsonOf(t, lb); lr.StatusCode != 401 || m["status"] != "error" || m["data"].(map[string]any)["mfa"] != "enroll" {
		t.Fatalf("login API under required MFA: %d %s", lr.StatusCode, lb)
	}

	// Enrolment finishes the login.
	id, pk := ti.begin(t, browser, iam.PathWebAuthnMFABegin, "create")
	st, m := ti.api(t, browser, "POST", iam.PathWebAuthnMFAFinish, map[string]any{"ceremony": id, "credential": auth.create(t, pk)})
	if st != 200 || m["status"] != "ok" {
		t.Fatalf("enrol: %d %v", st, m)
	}
	tok := ti.exchangeFor(t, "sec", codeFromRedirect(t, m), verifier)
	if sub := subjectOf(t, tok["access_token"].(string)); sub != "secure/carol" {
		t.Fatalf("sub %q", sub)
	}
	// The pending login is consumed.
	if st, _ := ti.api(t, browser, "POST", iam.PathWebAuthnMFABegin, map[string]any{}); st != 401 {
		t.Fatalf("mfa begin after completion: %d, want 401", st)
	}

	// Next time the password leads to the passkey, which must verify.
	b2 := freshClient()
	verifier, challenge = pkcePair("mfa-required-2")
	q = authzQueryFor("sec", challenge)
	resp, page = ti.passwordStep(t, b2, q, "carol", "carol-password")
	if resp.StatusCode != 200 || !strings.Contains(page, "Confirm it") || hasCookie(resp, "iam_session") {
		t.Fatalf("second login: %d\n%s", resp.StatusCode, page)
	}
	id, opts := ti.begin(t, b2, iam.PathWebAuthnMFABegin, "get")
	if allowed, _ := opts["allowCredentials"].([]any); len(allowed) != 1 {
		t.Fatalf("second-factor options must list the user's passkey: %v", opts)
	}
	evil := &authenticator{origin: "http://evil.example", creds: auth.creds, uv: true}
	if st, _ := ti.api(t, b2, "POST", iam.PathWebAuthnMFAFinish, map[string]any{"ceremony": id, "credential": evil.get(t, opts, nil)}); st != 401 {
		t.Fatalf("phished assertion: %d, want 401", st)
	}
	id, opts = ti.begin(t, b2, iam.PathWebAuthnMFABegin, "get")
	st, m = ti.api(t, b2, "POST", iam.PathWebAuthnMFAFinish, map[string]any{"ceremony": id, "credential": auth.get(t, opts, nil)})
	if st != 200 {
		t.Fatalf("second factor: %d %v", st, m)
	}
	ti.exchangeFor(t, "sec", codeFromRedirect(t, m), verifier)

	// The last passkey cannot be removed under the required policy; a
	// second one can be added, then either removed.
	list, _ := ti.Passkeys(t.Context(), "secure", "carol")
	if st, _ := ti.api(t, b2, "DELETE", iam.PathWebAuthnCredentials+"/"+list[0].ID, nil); st != 409 {
		t.Fatalf("delete the last passkey under required MFA: %d, want 409", st)
	}
	id, pk = ti.begin(t, b2, iam.PathWebAuthnRegisterBegin, "create")
	if ex, _ := pk["excludeCredentials"].([]any); len(ex) != 1 {
		t.Fatalf("registration must exclude the existing passkey: %v", pk["excludeCredentials"])
	}
	if st, m := ti.api(t, b2, "POST", iam.PathWebAuthnRegisterFinish, map[string]any{"ceremony": id, "credential": auth.create(t, pk)}); st != 200 {
		t.Fatalf("second passkey: %d %v", st, m)
	}
	if st, _ := ti.api(t, b2, "DELETE", iam.PathWebAuthnCredentials+"/"+list[0].ID, nil); st != 200 {
		t.Fatalf("delete one of two passkeys: %d", st)
	}
	if st, _ := ti.api(t, b2, "DELETE", iam.PathWebAuthnCredentials+"/"+list[0].ID, nil); st != 404 {
		t.Fatalf("delete a deleted passkey: %d", st)
	}
	if list, _ = ti.Passkeys(t.Context(), "secure", "carol"); len(list) != 1 {
		t.Fatalf("passkeys after delete: %+v", list)
	}
	expectAudit(t, ti, "mfa/required", "mfa/ok", "mfa/failure", "webauthn.register/ok", "webauthn.delete/ok")
}

// TestPasskeyAsSecondFactor: under the optional policy a user who has a
// passkey must use it after the password; a user without one does not.
func TestPasskeyAsSecondFactor(t *testing.T) {
	ti := localhostIAM(t)
	auth := newAuthenticator(ti.origin())
	ti.registerPasskey(t, freshClient(), auth, "alice", "alice-password")

	_, challenge := pkcePair("bob")
	if resp, _ := ti.passwordStep(t, freshClient(), authzQuery(challenge), "bob", "bob-password"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("bob (no passkey, optional policy): %d, want 303", resp.StatusCode)
	}
	if st, tok := passwordGrant(t, ti, "web", "web-secret", "bob", "bob-password"); st != 200 {
		t.Fatalf("password grant for bob: %d %v", st, tok)
	}
	if st, tok := passwordGrant(t, ti, "web", "web-secret", "alice", "alice-password"); st != 400 || tok["error"] != "invalid_grant" {
		t.Fatalf("password grant for alice (has a passkey): %d %v", st, tok)
	}

	browser := freshClient()
	verifier, challenge := pkcePair("alice-2fa")
	resp, page := ti.passwordStep(t, browser, authzQuery(challenge), "alice", "alice-password")
	if resp.StatusCode != 200 || !strings.Contains(page, "Use your passkey") || hasCookie(resp, "iam_session") {
		t.Fatalf("alice's password step: %d\n%s", resp.StatusCode, page)
	}
	// A wrong password does not reach the second factor.
	if resp, _ := ti.passwordStep(t, freshClient(), authzQuery(challenge), "alice", "wrong"); resp.StatusCode != 401 || hasCookie(resp, "iam_mfa") {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	// Another browser cannot finish alice's pending login.
	if st, _ := ti.api(t, freshClient(), "POST", iam.PathWebAuthnMFABegin, map[string]any{}); st != 401 {
		t.Fatalf("mfa begin without the pending cookie: %d", st)
	}
	id, opts := ti.begin(t, browser, iam.PathWebAuthnMFABegin, "get")
	st, m := ti.api(t, browser, "POST", iam.PathWebAuthnMFAFinish, map[string]any{"ceremony": id, "credential": auth.get(t, opts, nil)})
	if st != 200 {
		t.Fatalf("second factor: %d %v", st, m)
	}
	ti.exchange(t, codeFromRedirect(t, m), verifier)
}
