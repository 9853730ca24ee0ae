package iam

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/golang-jwt/jwt/v5"
)

// errInvalidToken is returned for every token the IAM does not accept.
var errInvalidToken = errors.New("invalid token")

// sign signs claims with the current signing key. typ is the JOSE header
// typ ("at+jwt" for access tokens, "JWT" for ID tokens). The payload is
// SDK-safe (see sdkSafeJSON).
func (s *Server) sign(ctx context.Context, claims map[string]any, typ string) (string, error) {
	_, k, _ := s.currentKeys(ctx)
	if k == nil {
		return "", errors.New("sign token: no signing key")
	}
	header, err := json.Marshal(map[string]string{"alg": k.alg, "kid": k.kid, "typ": typ})
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	payload, err := sdkSafeJSON(claims)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	p64 := base64.RawURLEncoding.EncodeToString(payload)
	if strings.ContainsAny(p64, "-_") {
		return "", errors.New("sign token: payload is not SDK-safe")
	}
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + p64
	var sig []byte
	switch key := k.priv.(type) {
	case *rsa.PrivateKey:
		sig, err = jwt.SigningMethodRS256.Sign(signing, key)
	case *ecdsa.PrivateKey:
		sig, err = jwt.SigningMethodES256.Sign(signing, key)
	default:
		err = fmt.Errorf("unsupported key %T", key)
	}
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// verify checks a token this IAM signed: a trusted kid, the key's own
// algorithm (never none or HS*), the issuer, exp and nbf (no leeway, the
// IAM is its own clock). It returns the claims.
func (s *Server) verify(ctx context.Context, token string) (map[string]any, error) {
	if len(token) > 16<<10 || strings.Count(token, ".") != 2 {
		return nil, errInvalidToken
	}
	claims := jwt.MapClaims{}
	p := jwt.NewParser(jwt.WithValidMethods([]string{AlgRS256, AlgES256}), jwt.WithIssuer(s.issuer),
		jwt.WithExpirationRequired(), jwt.WithTimeFunc(s.now))
	_, err := p.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k := s.verificationKey(ctx, kid)
		if k == nil {
			return nil, errInvalidToken
		}
		if t.Method.Alg() != k.alg {
			return nil, errInvalidToken
		}
		return k.priv.Public(), nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalidToken, err)
	}
	return claims, nil
}

// randomToken returns n random bytes, base64url (no padding).
func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomID returns a 128-bit random hex id.
func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// tokenHash is how opaque tokens (codes, refresh tokens, sessions, device
// codes) are stored: SHA-256 hex, so a database leak reveals no usable token.
func tokenHash(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

// atHash is the OIDC at_hash of an RS256/ES256-signed access token.
func atHash(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// hasScope reports whether the space-separated scope contains want.
func hasScope(scope, want string) bool {
	for _, s := range strings.Fields(scope) {
		if s == want {
			return true
		}
	}
	return false
}

// tokenSet is what the token endpoint returns.
type tokenSet struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	Scope        string `json:"scope,omitempty"`
	IDToken      string `json:"id_token,omitempty"`
	RefreshToken string `json:"refresh_token,omitempty"`
}

// issue describes one token issuance.
type issue struct {
	app      *Application
	user     *User // nil for client credentials
	scope    string
	grantID  string // sid claim: the refresh family / login grant
	nonce    string
	authTime int64
	amr      string // RFC 8176 methods, space-separated; "" = unknown
	idToken  bool
}

// accessClaims builds the access-token claims of spec/iam.md.
func (s *Server) accessClaims(ctx context.Context, in issue, jti string, now int64) map[string]any {
	app := in.app
	c := map[string]any{
		"iss":       s.issuer,
		"aud":       app.audience(),
		"iat":       now,
		"nbf":       now,
		"exp":       now + int64(app.AccessTTL.Seconds()),
		"jti":       jti,
		"azp":       app.ClientID,
		"client_id": app.ClientID,
		"scope":     in.scope,
	}
	if in.user == nil {
		c["sub"] = app.Org + "/" + app.ClientID
		c["owner"] = app.Org
		c["organization"] = app.Org
		c["name"] = app.Name
		c["isAdmin"] = false
		c["orgs"] = []OrgRole{{Org: app.Org, Role: "service"}}
		return c
	}
	u := in.user
	name := u.DisplayName
	if name == "" {
		name = u.Username
	}
	c["sub"] = u.Subject()
	c["owner"] = u.Org
	c["organization"] = u.Org
	c["name"] = name
	c["preferred_username"] = u.Username
	c["isAdmin"] = u.IsAdmin
	c["orgs"] = u.memberships()
	if u.IsGlobalAdmin {
		c["isGlobalAdmin"] = true
	}
	if u.Email != "" {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	if len(u.Roles) > 0 {
		c["roles"] = u.Roles
		if perms := s.permissions(ctx, u); len(perms) > 0 {
			c["permissions"] = perms
		}
	}
	if in.grantID != "" {
		c["sid"] = in.grantID
	}
	return c
}

// idClaims builds an OIDC ID token's claims: no access-token-only claims.
func (s *Server) idClaims(in issue, accessToken string, now int64) map[string]any {
	u, app := in.user, in.app
	c := map[string]any{
		"iss":       s.issuer,
		"sub":       u.Subject(),
		"aud":       app.ClientID,
		"azp":       app.ClientID,
		"iat":       now,
		"exp":       now + int64(app.AccessTTL.Seconds()),
		"auth_time": in.authTime,
		"at_hash":   atHash(accessToken),
		"owner":     u.Org,
	}
	if in.nonce != "" {
		c["nonce"] = in.nonce
	}
	if in.amr != "" {
		c["amr"] = strings.Fields(in.amr)
	}
	if in.grantID != "" {
		c["sid"] = in.grantID
	}
	if hasScope(in.scope, "profile") {
		name := u.DisplayName
		if name == "" {
			name = u.Username
		}
		c["name"] = name
		c["preferred_username"] = u.Username
	}
	if hasScope(in.scope, "email") && u.Email != "" {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	return c
}

// mintTokens signs the access token (and the ID token when asked).
func (s *Server) mintTokens(ctx context.Context, in issue) (*tokenSet, error) {
	now := s.now().Unix()
	at, err := s.sign(ctx, s.accessClaims(ctx, in, randomID(), now), "at+jwt")
	if err != nil {
		return nil, err
	}
	ts := &tokenSet{AccessToken: at, TokenType: "Bearer", ExpiresIn: int64(in.app.AccessTTL.Seconds()), Scope: in.scope}
	if in.idToken && in.user != nil && hasScope(in.scope, "openid") {
		if ts.IDToken, err = s.sign(ctx, s.idClaims(in, at, now), "JWT"); err != nil {
			return nil, err
		}
	}
	return ts, nil
}

// Authentication method references (RFC 8176) of the ID token's amr claim,
// recorded on the SSO session and on the codes and grants issued in it.
const amrPassword = "pwd"

// amrOf is the amr of a sign-in: "pwd" when a password was checked, "hwk"
// or "swk" for the passkey cred (swk when it is backup-eligible, i.e. a
// synced passkey whose key may leave the device; hwk for a device-bound
// one), and "mfa" when mfa (two factors: a password and a passkey, or a
// user-verified passkey).
func amrOf(password bool, cred *webauthn.Credential, mfa bool) string {
	var m []string
	if password {
		m = append(m, amrPassword)
	}
	if cred != nil {
		if cred.Flags.BackupEligible {
			m = append(m, "swk")
		} else {
			m = append(m, "hwk")
		}
	}
	if mfa {
		m = append(m, "mfa")
	}
	return strings.Join(m, " ")
}
