package main

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hanzoai/base/auth"
	"github.com/hanzoai/base/iam"
)

// runToken runs `base token args...` and returns its exit code and output.
func runToken(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = tokenCommand(args, &out, &errb)
	return code, out.String(), errb.String()
}

// clearTokenEnv isolates the test from the caller's environment.
func clearTokenEnv(t *testing.T) {
	t.Setenv("BASE_DIR", "")
	t.Setenv("BASE_HTTP", "")
	t.Setenv("IAM_AUDIENCE", "")
}

// devVerifier returns a verifier trusting dir's dev issuer the way
// `base serve` does (static keys), with the given audience.
func devVerifier(t *testing.T, dir, audience string) *auth.Verifier {
	t.Helper()
	d, err := iam.OpenDevIssuer(dir, "http://unused:1")
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.New(t.Context(), auth.Config{Issuer: d.Issuer(), Audience: audience, Keys: d.PublicKeys()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestTokenCommandMintsAcceptedTokens(t *testing.T) {
	clearTokenEnv(t)
	dir := filepath.Join(t.TempDir(), "data")
	tests := []struct {
		name     string
		args     []string
		audience string
		want     map[string]any
		absent   []string
	}{
		{
			name: "minimal",
			args: []string{"--sub", "acme/alice", "--org", "acme"},
			want: map[string]any{"sub": "acme/alice", "owner": "acme", "organization": "acme",
				"name": "acme/alice", "isAdmin": false, "scope": "openid profile email"},
			absent: []string{"isGlobalAdmin", "orgs", "aud", "email", "email_verified"},
		},
		{
			name: "everything",
			args: []string{"--sub", "acme/root", "--org", "acme", "--email", "root@acme.test", "--name", "Rööt ~?>",
				"--admin", "--global-admin", "--ttl", "5m", "--orgs", "acme:owner", "--orgs", "beta:member", "--aud", "base"},
			audience: "base",
			want: map[string]any{"sub": "acme/root", "owner": "acme", "name": "Rööt ~?>", "email": "root@acme.test",
				"email_verified": true, "isAdmin": true, "isGlobalAdmin": true, "aud": "base",
				"orgs": []any{map[string]any{"org": "acme", "role": "owner"}, map[string]any{"org": "beta", "role": "member"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runToken(t, append([]string{"--dir", dir}, tt.args...)...)
			if code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr)
			}
			if !strings.HasSuffix(stdout, "\n") || strings.Count(stdout, "\n") != 1 || strings.Count(stdout, ".") != 2 {
				t.Fatalf("stdout %q is not one token and a newline", stdout)
			}
			tok := strings.TrimSuffix(stdout, "\n")
			if payload := strings.Split(tok, ".")[1]; strings.ContainsAny(payload, "-_") {
				t.Errorf("payload %q is not SDK-safe", payload)
			}
			claims, err := devVerifier(t, dir, tt.audience).Verify(t.Context(), "Bearer "+tok)
			if err != nil {
				t.Fatalf("base serve would refuse the token: %v", err)
			}
			for k, want := range tt.want {
				if got := claims[k]; !reflect.DeepEqual(got, want) {
					t.Errorf("claim %s = %#v, want %#v", k, got, want)
				}
			}
			for _, k := range tt.absent {
				if v, ok := claims[k]; ok {
					t.Errorf("claim %s = %#v, want absent", k, v)
				}
			}
			if claims["iss"] != "http://127.0.0.1:8090" {
				t.Errorf("iss = %v, want the default issuer", claims["iss"])
			}
		})
	}
}

func TestTokenCommandNegativeTTLIsExpired(t *testing.T) {
	clearTokenEnv(t)
	dir := t.TempDir()
	code, stdout, stderr := runToken(t, "--dir", dir, "--sub", "a", "--org", "acme", "--ttl", "-1h")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	_, err := devVerifier(t, dir, "").Verify(t.Context(), strings.TrimSpace(stdout))
	if !errors.Is(err, auth.ErrExpired) {
		t.Fatalf("err = %v, want ErrExpired", err)
	}
}

func TestTokenCommandEnvironment(t *testing.T) {
	clearTokenEnv(t)
	dir := t.TempDir()
	t.Setenv("BASE_DIR", dir)
	t.Setenv("BASE_HTTP", "127.0.0.1:9191")
	t.Setenv("IAM_AUDIENCE", "app-1")
	code, stdout, stderr := runToken(t, "--sub", "a", "--org", "acme")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	d, err := iam.OpenDevIssuer(dir, "http://unused:1")
	if err != nil {
		t.Fatal(err)
	}
	if d.Issuer() != "http://127.0.0.1:9191" {
		t.Errorf("issuer = %q, want http://$BASE_HTTP", d.Issuer())
	}
	claims, err := devVerifier(t, dir, "app-1").Verify(t.Context(), strings.TrimSpace(stdout))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if claims["aud"] != "app-1" {
		t.Errorf("aud = %v, want $IAM_AUDIENCE", claims["aud"])
	}
}

// TestTokenCommandOverJWKS verifies a minted token the way an external
// Base instance would: through the dev issuer's HTTP JWKS.
func TestTokenCommandOverJWKS(t *testing.T) {
	clearTokenEnv(t)
	dir := t.TempDir()
	code, stdout, stderr := runToken(t, "--dir", dir, "--sub", "acme/alice", "--org", "acme")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	d, err := iam.OpenDevIssuer(dir, "http://unused:1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d.Handler())
	defer srv.Close()
	v, err := auth.New(t.Context(), auth.Config{Issuer: d.Issuer(), JWKSURL: srv.URL + iam.PathJWKS, HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), strings.TrimSpace(stdout)); err != nil {
		t.Fatalf("Verify over JWKS: %v", err)
	}
}

func TestTokenCommandUsage(t *testing.T) {
	clearTokenEnv(t)
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no sub", []string{"--org", "acme"}, 2},
		{"no org", []string{"--sub", "a"}, 2},
		{"bad org", []string{"--sub", "a", "--org", "Acme Inc"}, 2},
		{"bad orgs", []string{"--sub", "a", "--org", "acme", "--orgs", "beta"}, 2},
		{"bad orgs org", []string{"--sub", "a", "--org", "acme", "--orgs", "B:admin"}, 2},
		{"bad ttl", []string{"--sub", "a", "--org", "acme", "--ttl", "soon"}, 2},
		{"unknown flag", []string{"--sub", "a", "--org", "acme", "--password", "x"}, 2},
		{"extra argument", []string{"--sub", "a", "--org", "acme", "extra"}, 2},
		{"help", []string{"--help"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runToken(t, append([]string{"--dir", dir}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if !strings.Contains(stderr, "Usage: base token") && tt.code == 2 && tt.name != "bad org" && tt.name != "bad orgs org" {
				t.Errorf("stderr %q has no usage", stderr)
			}
		})
	}
}
