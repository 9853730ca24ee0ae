package handler

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hanzoai/base/auth"
	"github.com/hanzoai/base/iam"
	"github.com/hanzoai/base/internal/testsrv"
	"github.com/hanzoai/base/jobs"
)

const (
	schedAudience = "https://base.example.run.app"
	schedEmail    = "scheduler@proj.iam.gserviceaccount.com"
)

// cronHarness is the API with a job registry and a scheduler verifier
// built as config builds it for Cloud Run: discovery at the issuer, its
// JWKS, RS256, the audience required.
type cronHarness struct {
	*apiHarness
	sched *iam.DevIssuer
	runs  *atomic.Int32
}

func newCronAPI(tb testing.TB, mut ...func(*Jobs)) *cronHarness {
	tb.Helper()
	sched := testsrv.DevIssuer(tb)
	var runs atomic.Int32
	reg := jobs.NewRegistry(nil)
	for _, j := range []jobs.Job{
		{ID: "__ping__", Expression: "@hourly", Run: func(context.Context) error { runs.Add(1); return nil }},
		{ID: "__fail__", Expression: "0 0 * * *", Run: func(context.Context) error { return errors.New("disk on fire") }},
	} {
		if err := reg.Add(j); err != nil {
			tb.Fatal(err)
		}
	}
	jc := Jobs{
		Registry:       reg,
		Scheduler:      auth.NewDiscovering(sched.Issuer(), auth.Config{Issuer: sched.Issuer(), Audience: schedAudience}),
		SchedulerEmail: schedEmail,
	}
	for _, m := range mut {
		m(&jc)
	}
	a := newAPI(tb, func(c *Config) { c.Jobs = jc })
	return &cronHarness{apiHarness: a, sched: sched, runs: &runs}
}

func (c *cronHarness) schedToken(tb testing.TB, claims map[string]any, ttl time.Duration) string {
	tb.Helper()
	base := map[string]any{"sub": "1234567890", "aud": schedAudience, "email": schedEmail, "email_verified": true, "azp": "1234567890"}
	for k, v := range claims {
		if v == nil {
			delete(base, k)
		} else {
			base[k] = v
		}
	}
	tok, err := c.sched.Mint(base, ttl)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// hs256Sched is the scheduler's claims signed HS256 with its public key.
func (c *cronHarness) hs256Sched(tb testing.TB) string {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(c.sched.PublicKeys()[c.sched.KeyID()])
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": c.sched.Issuer(), "aud": schedAudience, "email": schedEmail,
		"email_verified": true, "sub": "1", "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	t.Header["kid"] = c.sched.KeyID()
	s, err := t.SignedString(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestCronsAuth(t *testing.T) {
	c := newCronAPI(t)
	evil, err := iam.OpenDevIssuer(t.TempDir(), "https://accounts.evil.test")
	if err != nil {
		t.Fatal(err)
	}
	evilTok, err := evil.Mint(map[string]any{"sub": "1", "aud": schedAudience, "email": schedEmail, "email_verified": true}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	h := time.Hour
	for _, tc := range []struct {
		name   string
		token  string
		status int
	}{
		{"scheduler", c.schedToken(t, nil, h), 204},
		{"scheduler, email in another case", c.schedToken(t, map[string]any{"email": "Scheduler@Proj.iam.gserviceaccount.com"}, h), 204},
		{"scheduler, no email_verified claim", c.schedToken(t, map[string]any{"email_verified": nil}, h), 204},
		{"scheduler, Bearer scheme", "Bearer " + c.schedToken(t, nil, h), 204},
		{"platform superuser built-in", c.tok.root, 204},
		{"platform superuser isGlobalAdmin", c.tok.global, 204},

		{"scheduler token of another account", c.schedToken(t, map[string]any{"email": "intruder@gmail.com"}, h), 403},
		{"scheduler token, email not verified", c.schedToken(t, map[string]any{"email_verified": false}, h), 403},
		{"scheduler token, no email", c.schedToken(t, map[string]any{"email": nil}, h), 403},
		{"org admin", c.tok.admin, 403},
		{"plain user", c.tok.alice, 403},

		{"guest", "", 401},
		{"scheduler token for another audience", c.schedToken(t, map[string]any{"aud": "https://other.example"}, h), 401},
		{"scheduler token, expired", c.schedToken(t, nil, -h), 401},
		{"scheduler claims from another issuer", evilTok, 401},
		{"scheduler claims, HS256 with the public key", c.hs256Sched(t), 401},
		{"user token, expired", c.tok.expired, 401},
		{"user token, alg none", c.tok.algNone, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := c.runs.Load()
			res := c.do(t, apiRequest{method: "POST", path: "/v1/crons/__ping__", token: tc.token})
			if res.Code != tc.status {
				t.Fatalf("status %d, want %d; body %s", res.Code, tc.status, res.Raw)
			}
			ran := c.runs.Load() - before
			if want := int32(0); tc.status == 204 {
				if ran != 1 {
					t.Errorf("job ran %d times, want 1", ran)
				}
				if len(res.Raw) != 0 {
					t.Errorf("204 with a body %q", res.Raw)
				}
			} else {
				if ran != want {
					t.Errorf("job ran %d times on a refused request", ran)
				}
				checkEnvelope(t, res)
			}
		})
	}
}

func TestCronsRoutes(t *testing.T) {
	c := newCronAPI(t)
	sched := c.schedToken(t, nil, time.Hour)
	want := []any{
		map[string]any{"id": "__fail__", "expression": "0 0 * * *"},
		map[string]any{"id": "__ping__", "expression": "@hourly"},
	}
	for _, tok := range []string{c.tok.root, sched} {
		for _, prefix := range []string{"/v1", "/api"} {
			got := c.must(t, 200, apiRequest{method: "GET", path: prefix + "/crons", token: tok})
			if !reflect.DeepEqual(got, want) {
				t.Errorf("GET %s/crons = %v, want %v", prefix, got, want)
			}
		}
	}
	c.must(t, 204, apiRequest{method: "POST", path: "/api/crons/__ping__", token: sched})
	for _, tc := range []struct {
		method, path, token string
		status              int
	}{
		{"POST", "/v1/crons/__nope__", c.tok.root, 404},
		{"POST", "/v1/crons/__nope__", sched, 404},
		{"POST", "/v1/crons/__nope__", "", 401}, // who asks is checked before what exists
		{"POST", "/v1/crons/__nope__", c.tok.alice, 403},
		{"GET", "/v1/crons", "", 401},
		{"GET", "/v1/crons", c.tok.admin, 403},
		{"POST", "/v1/crons/__fail__", c.tok.root, 500},   // the scheduler retries
		{"DELETE", "/v1/crons/__ping__", c.tok.root, 404}, // the catch-all envelope
	} {
		res := c.do(t, apiRequest{method: tc.method, path: tc.path, token: tc.token})
		if res.Code != tc.status {
			t.Errorf("%s %s: status %d, want %d; body %s", tc.method, tc.path, res.Code, tc.status, res.Raw)
			continue
		}
		if tc.status >= 400 {
			checkEnvelope(t, res)
		}
	}
}

// TestCronsDisabled: without a registry the routes do not exist; a
// scheduler verifier without an email accepts nobody.
func TestCronsDisabled(t *testing.T) {
	c := newCronAPI(t, func(j *Jobs) { j.Registry = nil })
	res := c.do(t, apiRequest{method: "GET", path: "/v1/crons", token: c.tok.root})
	if res.Code != http.StatusNotFound {
		t.Errorf("GET /crons without a registry: %d, want 404", res.Code)
	}
	c = newCronAPI(t, func(j *Jobs) { j.SchedulerEmail = "" })
	res = c.do(t, apiRequest{method: "POST", path: "/v1/crons/__ping__", token: c.schedToken(t, nil, time.Hour)})
	if res.Code != http.StatusUnauthorized || c.runs.Load() != 0 {
		t.Errorf("scheduler token with no email configured: %d (ran %d), want 401", res.Code, c.runs.Load())
	}
	c.must(t, 204, apiRequest{method: "POST", path: "/v1/crons/__ping__", token: c.tok.root})
}
