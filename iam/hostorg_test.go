package iam_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hanzoai/base/iam"
)

// hostCall sends a request with the Host header host through the test
// IAM's client (cookies kept).
func (ti *testIAM) hostCall(t *testing.T, host, method, path, ctype, body string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, ti.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := ti.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestOrgFromHost: without a client_id, the login page, the login API, the
// device page and the password API take the org from the Host header.
func TestOrgFromHost(t *testing.T) {
	ti := newTestIAM(t)
	ctx := t.Context()
	if _, err := ti.UpdateOrg(ctx, "acme", iam.OrgPatch{Domains: &[]string{"login.acme.example"}}); err != nil {
		t.Fatal(err)
	}
	const acmeHost, otherHost = "login.acme.example:8443", "unknown.example"

	// Login page: branded for acme; without a known host, the old error.
	resp, body := ti.hostCall(t, acmeHost, "GET", iam.PathAuthorize, "", "")
	if resp.StatusCode != 200 || !strings.Contains(body, "Acme Inc") || !strings.Contains(body, "#aa3300") || !strings.Contains(body, `name="password"`) {
		t.Fatalf("host login page: %d %s", resp.StatusCode, body)
	}
	resp, body = ti.hostCall(t, otherHost, "GET", iam.PathAuthorize, "", "")
	if resp.StatusCode != 400 || strings.Contains(body, "Acme") {
		t.Fatalf("login page on an unknown host: %d %s", resp.StatusCode, body)
	}
	form := func(user, pass string) string {
		return url.Values{"username": {user}, "password": {pass}}.Encode()
	}
	if resp, _ := ti.hostCall(t, acmeHost, "POST", iam.PathAuthorize, formType, form("bob", "wrong")); resp.StatusCode != 401 {
		t.Fatalf("bad password on the host page: %d", resp.StatusCode)
	}
	resp, body = ti.hostCall(t, acmeHost, "POST", iam.PathAuthorize, formType, form("bob", "bob-password"))
	if resp.StatusCode != 200 || !strings.Contains(body, "signed in as bob") {
		t.Fatalf("host sign-in: %d %s", resp.StatusCode, body)
	}
	// The session is acme's: an acme application signs bob in at once.
	_, challenge := pkcePair("host")
	q := url.Values{"client_id": {"spa"}, "redirect_uri": {"http://127.0.0.1:9999/cb"}, "response_type": {"code"}, "state": {"st"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}}
	if resp, _ := ti.hostCall(t, acmeHost, "GET", iam.PathAuthorize+"?"+q.Encode(), "", ""); resp.StatusCode != http.StatusFound {
		t.Fatalf("SSO after the host sign-in: %d", resp.StatusCode)
	}

	// Login API: the application is looked up in the Host's org.
	login := `{"type":"login","application":"spa","username":"bob","password":"bob-password"}`
	if resp, body := ti.hostCall(t, acmeHost, "POST", iam.PathLogin, "application/json", login); resp.StatusCode != 200 {
		t.Fatalf("login API on the org's host: %d %s", resp.StatusCode, body)
	}
	if resp, _ := ti.hostCall(t, otherHost, "POST", iam.PathLogin, "application/json", login); resp.StatusCode != 400 {
		t.Fatalf("login API on an unknown host: %d", resp.StatusCode)
	}

	// Device page: branded before the code is known.
	if resp, body := ti.hostCall(t, acmeHost, "GET", iam.PathDevicePage, "", ""); resp.StatusCode != 200 || !strings.Contains(body, "Acme Inc") {
		t.Fatalf("device page on the org's host: %d %s", resp.StatusCode, body)
	}

	// Password API without an organization.
	change := `{"username":"bob","oldPassword":"bob-password","newPassword":"bob-password-2"}`
	if resp, _ := ti.hostCall(t, otherHost, "POST", iam.PathPassword, "application/json", change); resp.StatusCode != 400 {
		t.Fatalf("password change on an unknown host: %d", resp.StatusCode)
	}
	if resp, body := ti.hostCall(t, acmeHost, "POST", iam.PathPassword, "application/json", change); resp.StatusCode != 200 {
		t.Fatalf("password change on the org's host: %d %s", resp.StatusCode, body)
	}
	if resp, _ := ti.hostCall(t, acmeHost, "POST", iam.PathAuthorize, formType, form("bob", "bob-password-2")); resp.StatusCode != 200 {
		t.Fatalf("sign-in with the changed password: %d", resp.StatusCode)
	}
}
