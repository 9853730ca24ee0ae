package auth_test

import (
	"crypto"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hanzoai/base/auth"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, every
// refusal must be classified, and whatever it accepts must carry the
// configured issuer (only the seeded valid token can be accepted).
func FuzzVerify(f *testing.F) {
	clk := newClock()
	k := newSigner(f, "fuzz", jwt.SigningMethodRS256)
	e := newSigner(f, "fuzz-ec", jwt.SigningMethodES256)
	v, err := auth.New(f.Context(), auth.Config{
		Issuer:   testIssuer,
		Audience: "base",
		Keys:     map[string]crypto.PublicKey{k.kid: k.public(), e.kid: e.public()},
		Now:      clk.Now,
	})
	if err != nil {
		f.Fatal(err)
	}
	valid := mint(f, k, validClaims(clk.Now()))
	parts := strings.Split(valid, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	for _, seed := range []string{
		valid,
		"Bearer " + valid,
		mint(f, e, validClaims(clk.Now())),
		parts[0] + "." + parts[1] + ".",
		parts[0] + ".." + parts[2],
		b64([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".",
		b64([]byte(`{"alg":"HS256","kid":"fuzz"}`)) + "." + parts[1] + "." + parts[2],
		b64([]byte(`{"alg":"RS256","kid":["x"]}`)) + "." + parts[1] + "." + parts[2],
		b64([]byte(`{"alg":"RS256","kid":"fuzz","crit":["exp"]}`)) + "." + b64([]byte(`{"exp":1e400}`)) + "." + parts[2],
		parts[0] + "." + b64([]byte(`{"aud":[1,{"a":null}],"exp":"x","nbf":[]}`)) + "." + parts[2],
		"",
		".",
		"..",
		"a.b.c",
		"Bearer",
		"\x00\xff.\xfe.\x01",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := v.Verify(t.Context(), token)
		if err != nil {
			if claims != nil {
				t.Fatalf("claims %v returned with error %v", claims, err)
			}
			if r := auth.Reason(err); r == "" || r == "other" {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if claims["iss"] != testIssuer {
			t.Fatalf("accepted a token with iss %v", claims["iss"])
		}
	})
}
