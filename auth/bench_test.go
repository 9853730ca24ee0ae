package auth_test

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hanzoai/base/auth"
)

// BenchmarkVerify measures a warm verification (JWKS fetched and cached) of
// a typical RS256 IAM access token. Target: ≥ 20,000 verifications/s per
// core (run with -cpu 1).
func BenchmarkVerify(b *testing.B) {
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodRS256, jwt.SigningMethodES256, jwt.SigningMethodEdDSA} {
		for _, cached := range []bool{false, true} {
			name := m.Alg()
			if cached {
				name += "/cached"
			}
			b.Run(name, func(b *testing.B) { benchVerify(b, m, cached) })
		}
	}
}

// benchVerify measures warm verification of one token with method m: the
// signature check itself, or (cached) a repeat of an already verified token.
func benchVerify(b *testing.B, m jwt.SigningMethod, cached bool) {
	{
		{
			clk := newClock()
			k := newSigner(b, "bench", m)
			srv := newJWKSServer(b, k)
			v := newVerifier(b, srv, clk)
			if !cached {
				auth.DisableCache(v)
			}
			tok := "Bearer " + mint(b, k, validClaims(clk.Now()))
			if _, err := v.Verify(b.Context(), tok); err != nil { // warm the cache
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := v.Verify(b.Context(), tok); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verify/s")
			if got := srv.fetches.Load(); got != 1 {
				b.Fatalf("JWKS fetched %d times, want 1", got)
			}
		}
	}
}

// BenchmarkVerifyParallel measures warm RS256 verification on all cores.
func BenchmarkVerifyParallel(b *testing.B) {
	clk := newClock()
	k := newSigner(b, "bench", jwt.SigningMethodRS256)
	srv := newJWKSServer(b, k)
	v := newVerifier(b, srv, clk)
	tok := mint(b, k, validClaims(clk.Now()))
	if _, err := v.Verify(b.Context(), tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(b.Context(), tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verify/s")
}
