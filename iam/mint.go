package iam

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/golang-jwt/jwt/v5"
)

// Mint signs claims as an RS256 JWT (header alg, kid, typ "JWT") valid for
// ttl; a negative ttl mints an already-expired token. Mint sets iss (the
// issuer), iat and nbf (now), exp (now+ttl) and jti (random), overriding
// any caller values of these claims; claims itself is not modified.
//
// The payload is SDK-safe: its JSON text is plain ASCII, with non-ASCII
// characters and '>', '?', '~', DEL written as \uXXXX escapes, so its
// base64url form contains no '-' or '_' and the pocketbase SDK's atob-based
// decoding reads it. Claims must be JSON-marshalable.
func (d *DevIssuer) Mint(claims map[string]any, ttl time.Duration) (string, error) {
	now := d.now()
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	c := make(map[string]any, len(claims)+5)
	for k, v := range claims {
		c[k] = v
	}
	c["iss"] = d.issuer
	c["iat"] = now.Unix()
	c["nbf"] = now.Unix()
	c["exp"] = now.Add(ttl).Unix()
	c["jti"] = hex.EncodeToString(jti)

	header, err := json.Marshal(map[string]string{"alg": "RS256", "kid": d.kid, "typ": "JWT"})
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	payload, err := sdkSafeJSON(c)
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	p64 := base64.RawURLEncoding.EncodeToString(payload)
	if strings.ContainsAny(p64, "-_") { // impossible for ASCII without >?~DEL
		return "", errors.New("mint token: payload is not SDK-safe")
	}
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + p64
	sig, err := jwt.SigningMethodRS256.Sign(signing, d.key)
	if err != nil {
		return "", fmt.Errorf("mint token: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// sdkSafeJSON marshals v to JSON and rewrites every byte that could put a
// '-' or '_' into its base64url form — any non-ASCII character, '>', '?',
// '~' and DEL — as a \uXXXX escape. Those bytes can only occur inside JSON
// strings, where the escape means the same character, so the result is
// equivalent JSON.
func sdkSafeJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v) // always valid UTF-8
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(b)+len(b)/8)
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c == '>' || c == '?' || c == '~' || c == 0x7f:
			out = appendEscape(out, rune(c))
			i++
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(b[i:])
			if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
				out = appendEscape(appendEscape(out, r1), r2)
			} else {
				out = appendEscape(out, r)
			}
			i += size
		}
	}
	return out, nil
}

func appendEscape(b []byte, r rune) []byte {
	const hexDigits = "0123456789abcdef"
	return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}
