package iam_test

import (
	"testing"

	"github.com/hanzoai/base/iam"
)

// TestDisabledUserPasskeyLogin: a disabled user cannot sign in with a
// passkey either (no password check is involved there).
func TestDisabledUserPasskeyLogin(t *testing.T) {
	ti := localhostIAM(t)
	auth := newAuthenticator(ti.origin())
	ti.registerPasskey(t, ti.client, auth, "bob", "bob-password")
	disabled := true
	if _, err := ti.UpdateUser(t.Context(), "acme", "bob", iam.UserPatch{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	browser := freshClient()
	_, challenge := pkcePair("disabled-passkey")
	q := authzQuery(challenge)
	id, opts := ti.begin(t, browser, iam.PathWebAuthnLoginBegin+"?"+q.Encode(), "get")
	st, m := ti.api(t, browser, "POST", iam.PathWebAuthnLoginFinish, map[string]any{"ceremony": id, "credential": auth.get(t, opts, nil)})
	if st == 200 || m["status"] == "ok" {
		t.Fatalf("a disabled user signed in with a passkey: %d %v", st, m)
	}
}
