package iam_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hanzoai/base/iam"
)

// atob decodes s the way the pocketbase SDK's getTokenPayload does: the
// WHATWG forgiving-base64 decode of the browser's atob (standard alphabet,
// optional padding, '-' and '_' are errors), then UTF-8.
func atob(s string) ([]byte, error) {
	if len(s)%4 == 0 {
		s = strings.TrimSuffix(strings.TrimSuffix(s, "="), "=")
	}
	if len(s)%4 == 1 {
		return nil, errors.New("atob: bad length")
	}
	for _, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return nil, errors.New("atob: invalid character " + string(c))
		}
	}
	b, err := base64.RawStdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, errors.New("atob: decoded payload is not UTF-8")
	}
	return b, nil
}

// sdkPayload decodes a token's payload as the SDK does; nil if it cannot.
func sdkPayload(tb testing.TB, token string) map[string]any {
	tb.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		tb.Fatalf("token has %d segments", len(parts))
	}
	if strings.ContainsAny(parts[1], "-_") {
		tb.Errorf("payload segment %q contains '-' or '_'", parts[1])
	}
	raw, err := atob(parts[1])
	if err != nil {
		tb.Errorf("SDK-style decode of the payload: %v", err)
		return nil
	}
	for _, c := range raw {
		if c >= 0x80 {
			tb.Errorf("payload JSON is not plain ASCII: %q", raw)
			break
		}
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		tb.Errorf("payload JSON: %v", err)
		return nil
	}
	return m
}

// trickyClaims puts every troublesome character at every offset modulo 3
// in keys and values, plus non-ASCII text and nested values.
func trickyClaims() map[string]any {
	c := map[string]any{
		"name":    "José Ñúñez ~?> <&> 日本語 😀 \u2028\u2029 \x7f",
		"email":   "a+b?c~d>e@exámple.test",
		"ключ":    "значение",
		"nested":  map[string]any{"q?": []any{"~", ">", 1.5, true, nil, "é"}},
		"surr😀":   "\U0010ffff",
		"html":    "</script><!--",
		"control": "tab\tnl\nnul\x00",
	}
	for _, ch := range []string{">", "?", "~", "\x7f", "é", "\u00ff", "\u07ff", "\u0800", "\uffff"} {
		for pad := range 6 {
			p := strings.Repeat("a", pad)
			c["v"+p+ch] = p + ch + ch + ch
		}
	}
	return c
}

func TestMintIsSDKSafeAndVerifies(t *testing.T) {
	d := openIssuer(t, t.TempDir(), "http://127.0.0.1:8090")
	in := trickyClaims()
	in["iss"] = "https://overridden.test"
	before := time.Now().Unix()
	tok, err := d.Mint(in, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if in["iss"] != "https://overridden.test" {
		t.Error("Mint modified its claims argument")
	}

	// The SDK reads the payload, and it says what we minted.
	got := sdkPayload(t, tok)
	for k, want := range trickyClaims() {
		// Round-trip want through JSON for comparable types (float64, []any).
		var norm any
		json.Unmarshal(mustJSON(t, want), &norm)
		if !reflect.DeepEqual(got[k], norm) {
			t.Errorf("claim %q = %#v, want %#v", k, got[k], norm)
		}
	}
	if got["iss"] != d.Issuer() {
		t.Errorf("iss = %v, want %v", got["iss"], d.Issuer())
	}
	iat, _ := got["iat"].(float64)
	nbf, _ := got["nbf"].(float64)
	exp, _ := got["exp"].(float64)
	if int64(iat) < before || nbf != iat || exp != iat+3600 {
		t.Errorf("iat %v nbf %v exp %v", iat, nbf, exp)
	}
	if jti, _ := got["jti"].(string); len(jti) != 32 {
		t.Errorf("jti = %q", jti)
	}

	// The signature verifies with the published key, RS256 only.
	parsed, err := jwt.Parse(tok, func(tk *jwt.Token) (any, error) {
		return d.PublicKeys()[tk.Header["kid"].(string)], nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithIssuer(d.Issuer()), jwt.WithExpirationRequired())
	if err != nil {
		t.Fatalf("jwt.Parse: %v", err)
	}
	if parsed.Header["typ"] != "JWT" || parsed.Header["kid"] != d.KeyID() || parsed.Header["alg"] != "RS256" {
		t.Errorf("header = %v", parsed.Header)
	}
	if name := parsed.Claims.(jwt.MapClaims)["name"]; name != trickyClaims()["name"] {
		t.Errorf("verified name = %q", name)
	}
}

func TestMintNegativeTTLIsExpired(t *testing.T) {
	d := openIssuer(t, t.TempDir(), "http://127.0.0.1:8090")
	tok, err := d.Mint(map[string]any{"sub": "x"}, -time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, err = jwt.Parse(tok, func(*jwt.Token) (any, error) { return d.PublicKeys()[d.KeyID()], nil })
	if !errors.Is(err, jwt.ErrTokenExpired) {
		t.Fatalf("err = %v, want expired", err)
	}
}

func TestMintRefusesUnmarshalable(t *testing.T) {
	d := openIssuer(t, t.TempDir(), "http://127.0.0.1:8090")
	if _, err := d.Mint(map[string]any{"f": func() {}}, time.Hour); err == nil {
		t.Fatal("Mint accepted a func claim")
	}
}

func TestSDKSafeJSON(t *testing.T) {
	tests := []struct {
		in   any
		want string
	}{
		{"a>b", `"a\u003eb"`},
		{"a?b~c\x7f", `"a\u003fb\u007ec\u007f"`},
		{"é", `"\u00e9"`},
		{"😀", `"\ud83d\ude00"`},
		{map[string]any{"k?": `\?`}, `{"k\u003f":"\\\u003f"}`},
		{1e21, `1e+21`},
	}
	for _, tt := range tests {
		got, err := iam.SDKSafeJSON(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("SDKSafeJSON(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

// FuzzSDKSafeJSON checks, for arbitrary keys and values, that the payload
// encoding is ASCII, base64url-encodes without '-' or '_', and decodes
// (SDK-style) back to the same claims.
func FuzzSDKSafeJSON(f *testing.F) {
	for _, s := range []string{"", ">", "?", "~", "\x7f", "é😀", "\xff\xfe", "a\\u003e", "\u2028"} {
		f.Add(s, s+s)
	}
	f.Fuzz(func(t *testing.T, k, v string) {
		in := map[string]any{k: v, "n": []any{v, 1.0}}
		b, err := iam.SDKSafeJSON(in)
		if err != nil {
			t.Fatal(err)
		}
		enc := base64.RawURLEncoding.EncodeToString(b)
		if strings.ContainsAny(enc, "-_") {
			t.Fatalf("base64url of %s contains '-' or '_'", b)
		}
		raw, err := atob(enc)
		if err != nil {
			t.Fatal(err)
		}
		var got, want map[string]any
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
		json.Unmarshal(mustJSON(t, in), &want) // invalid UTF-8 becomes U+FFFD in both
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip: got %#v, want %#v", got, want)
		}
	})
}

func mustJSON(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func BenchmarkMint(b *testing.B) {
	d := openIssuer(b, b.TempDir(), "http://127.0.0.1:8090")
	claims := iam.UserClaims{Subject: "acme/alice", Org: "acme", Email: "alice@acme.test"}.Map()
	for b.Loop() {
		if _, err := d.Mint(claims, time.Hour); err != nil {
			b.Fatal(err)
		}
	}
}
