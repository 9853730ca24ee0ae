package iam_test

import (
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hanzoai/base/iam"
)

// remoteAddrTransport serves requests in-process through h as if they came
// from ip, so a test can play several client addresses.
type remoteAddrTransport struct {
	h  http.Handler
	ip string
}

func (t remoteAddrTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r2 := r.Clone(r.Context())
	r2.RemoteAddr = t.ip + ":4242"
	r2.RequestURI = r.URL.RequestURI()
	if r2.Body == nil {
		r2.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, r2)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// clientFrom is a browser (cookie jar, no redirects followed) at ip.
func clientFrom(ti *testIAM, ip string) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: remoteAddrTransport{ti.Handler(), ip},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// tamper flips a bit of an assertion's signature.
func tamper(body json.RawMessage) json.RawMessage {
	var m map[string]any
	json.Unmarshal(body, &m)
	r := m["response"].(map[string]any)
	sig, _ := enc.DecodeString(r["signature"].(string))
	sig[len(sig)-1] ^= 1
	r["signature"] = enc.EncodeToString(sig)
	b, _ := json.Marshal(m)
	return b
}

// TestPasskeyThrottling: failed passkey assertions count like failed
// passwords. Passwordless failures lock the IP (its passkey and password
// sign-ins), not the account; second-factor failures lock the account.
func TestPasskeyThrottling(t *testing.T) {
	ti := localhostIAM(t)
	auth := newAuthenticator(ti.origin())
	ti.registerPasskey(t, ti.client, auth, "alice", "alice-password")
	_, challenge := pkcePair("throttle")
	beginPath := iam.PathWebAuthnLoginBegin + "?" + authzQuery(challenge).Encode()

	attacker := clientFrom(ti, "203.0.113.7")
	var heldID string
	var heldOpts map[string]any
	for i := range 5 {
		if i == 4 { // a ceremony begun before the lock
			heldID, heldOpts = ti.begin(t, attacker, beginPath, "get")
		}
		id, opts := ti.begin(t, attacker, beginPath, "get")
		if st, m := ti.api(t, attacker, "POST", iam.PathWebAuthnLoginFinish, map[string]any{"ceremony": id, "credential": tamper(auth.get(t, opts, nil))}); st != 401 {
			t.Fatalf("failure %d: %d %v", i+1, st, m)
		}
	}
	if st, m := ti.api(t, attacker, "POST", beginPath, map[string]any{}); st != 429 || m["status"] != "error" {
		t.Fatalf("begin from the locked IP: %d %v", st, m)
	}
	if st, _ := ti.api(t, attacker, "POST", iam.PathWebAuthnLoginFinish, map[string]any{"ceremony": heldID, "credential": auth.get(t, heldOpts, nil)}); st != 429 {
		t.Fatalf("a good assertion from the locked IP: %d, want 429", st)
	}
	// The IP counter is the password's too.
	req, _ := http.NewRequest("POST", ti.URL+iam.PathLogin, strings.NewReader(`{"type":"login","application":"spa","organization":"acme","username":"bob","password":"bob-password"}`))
	if resp, err := attacker.Do(req); err != nil || resp.StatusCode != 429 {
		t.Fatalf("password sign-in from the locked IP: %v %v", resp.StatusCode, err)
	}
	// The account is not locked: alice signs in with her passkey elsewhere.
	home := clientFrom(ti, "198.51.100.9")
	id, opts := ti.begin(t, home, beginPath, "get")
	if st, m := ti.api(t, home, "POST", iam.PathWebAuthnLoginFinish, map[string]any{"ceremony": id, "credential": auth.get(t, opts, nil)}); st != 200 {
		t.Fatalf("alice's passkey from another IP: %d %v", st, m)
	}
	// 15 minutes later the IP may try again.
	ti.clock.Add(15*60 + 1)
	ti.begin(t, attacker, beginPath, "get")
	expectAudit(t, ti, "webauthn.login/throttled")

	// Second factor: five failed assertions after alice's (known) password
	// lock her account, from any IP.
	phone := clientFrom(ti, "192.0.2.1")
	if resp, page := ti.passwordStep(t, phone, authzQuery(challenge), "alice", "alice-password"); resp.StatusCode != 200 || !strings.Contains(page, "Use your passkey") {
		t.Fatalf("password step: %d", resp.StatusCode)
	}
	for i := range 5 {
		id, opts := ti.begin(t, phone, iam.PathWebAuthnMFABegin, "get")
		if st, m := ti.api(t, phone, "POST", iam.PathWebAuthnMFAFinish, map[string]any{"ceremony": id, "credential": tamper(auth.get(t, opts, nil))}); st != 401 {
			t.Fatalf("second-factor failure %d: %d %v", i+1, st, m)
		}
	}
	if st, _ := ti.api(t, phone, "POST", iam.PathWebAuthnMFABegin, map[string]any{}); st != 429 {
		t.Fatalf("second factor after 5 failures: %d, want 429", st)
	}
	if resp, _ := ti.passwordStep(t, clientFrom(ti, "192.0.2.99"), authzQuery(challenge), "alice", "alice-password"); resp.StatusCode != 429 {
		t.Fatalf("alice's password from another IP while locked: %d, want 429", resp.StatusCode)
	}
	expectAudit(t, ti, "mfa/failure", "mfa/throttled")
}
