package iam_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/hanzoai/base/auth"
	"github.com/hanzoai/base/iam"
	"github.com/hanzoai/base/store/sqlite"
)

// TestEmbeddedWithDevIssuer is the wiring `base serve` uses: the IAM signs
// with the dev issuer's key at first, Base's verifier trusts the dev key
// statically and the IAM's live JWKS through LocalClient, so `base token`
// tokens and IAM tokens both verify, before and after a rotation.
func TestEmbeddedWithDevIssuer(t *testing.T) {
	dir := t.TempDir()
	dev, err := iam.OpenDevIssuer(dir, "http://127.0.0.1:8090")
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(sqlite.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv, err := iam.New(t.Context(), iam.Config{Store: st, Issuer: dev.Issuer(), DevIssuer: dev, Argon2: iam.Argon2Params{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if srv.KeyID(t.Context()) != dev.KeyID() {
		t.Fatalf("IAM signs with %s, want the dev key %s", srv.KeyID(t.Context()), dev.KeyID())
	}
	if err := srv.ApplyInitData(t.Context(), []byte(`{"organizations":[{"name":"acme"}],
		"applications":[{"owner":"acme","clientId":"svc","clientSecret":"s","grantTypes":["client_credentials"]}]}`)); err != nil {
		t.Fatal(err)
	}
	v, err := auth.New(t.Context(), auth.Config{Issuer: srv.Issuer(), Keys: dev.PublicKeys(), JWKSURL: srv.Issuer() + iam.PathJWKS,
		HTTPClient: srv.LocalClient(), RefreshRateLimit: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cc := func() string {
		rec := serve(srv.Handler(), "POST", iam.PathToken, url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {"s"}}.Encode())
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		return jsonOf(t, rec.Body.Bytes())["access_token"].(string)
	}
	minted, err := dev.Mint(iam.UserClaims{Subject: "acme/alice", Org: "acme"}.Map(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	before := cc()
	if _, err := srv.RotateKey(t.Context()); err != nil {
		t.Fatal(err)
	}
	after := cc()
	time.Sleep(2 * time.Millisecond)
	for name, tok := range map[string]string{"base token": minted, "IAM before rotation": before, "IAM after rotation": after} {
		if _, err := v.Verify(t.Context(), tok); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
