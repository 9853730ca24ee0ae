package iam_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/hanzoai/base/iam"
)

// Benchmarks of the hot paths, in-process (handler + SQLite store, no
// network). Run per core with:
//
//	go test ./iam -run '^$' -bench . -cpu 1 -benchtime 3s

func serve(h http.Handler, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if method == "POST" && !strings.HasPrefix(body, "{") {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func BenchmarkClientCredentialsGrant(b *testing.B) {
	for _, alg := range []string{iam.AlgRS256, iam.AlgES256} {
		b.Run(alg, func(b *testing.B) {
			ti := newTestIAM(b, func(c *iam.Config) { c.KeyAlgorithm = alg })
			if alg == iam.AlgES256 {
				if _, err := ti.RotateKey(b.Context()); err != nil {
					b.Fatal(err)
				}
			}
			h := ti.Handler()
			form := url.Values{"grant_type": {"client_credentials"}}.Encode()
			auth := basic("web", "web-secret")
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if rec := serve(h, "POST", iam.PathToken, form, "Authorization", auth); rec.Code != 200 {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "grants/s")
		})
	}
}

func BenchmarkRefreshGrant(b *testing.B) {
	ti := newTestIAM(b)
	h := ti.Handler()
	// One refresh family per parallel worker: each worker rotates its own.
	newFamily := func() string {
		verifier, challenge := pkcePair(fmt.Sprint(b.N))
		code := ti.login(b, "spa", "http://127.0.0.1:9999/cb", challenge, "alice", "alice-password")
		rec := serve(h, "POST", iam.PathToken, url.Values{"grant_type": {"authorization_code"}, "client_id": {"spa"}, "code": {code},
			"redirect_uri": {"http://127.0.0.1:9999/cb"}, "code_verifier": {verifier}}.Encode())
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
		return jsonOf(b, rec.Body.Bytes())["refresh_token"].(string)
	}
	families := make(chan string, 64)
	for range 16 {
		families <- newFamily()
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		rt := <-families
		for pb.Next() {
			rec := serve(h, "POST", iam.PathToken, url.Values{"grant_type": {"refresh_token"}, "client_id": {"spa"}, "refresh_token": {rt}}.Encode())
			if rec.Code != 200 {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
			rt = jsonOf(b, rec.Body.Bytes())["refresh_token"].(string)
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "grants/s")
}

// BenchmarkPasswordLogin measures POST /v1/iam/login at the OWASP argon2id
// parameters (19 MiB, t=2, p=1).
func BenchmarkPasswordLogin(b *testing.B) {
	ti := newTestIAM(b, func(c *iam.Config) { c.Argon2 = iam.DefaultArgon2 })
	if err := ti.SetPassword(b.Context(), "acme", "bob", "bob-password"); err != nil {
		b.Fatal(err)
	}
	h := ti.Handler()
	body := `{"type":"login","application":"spa","organization":"acme","username":"bob","password":"bob-password"}`
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if rec := serve(h, "POST", iam.PathLogin, body); rec.Code != 200 {
				b.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "logins/s")
}
