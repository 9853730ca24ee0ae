package iam

import (
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
)

// Canonical paths of spec/iam.md, relative to the issuer origin.
const (
	PathDiscovery      = "/.well-known/openid-configuration"
	PathIAMDiscovery   = "/v1/iam/.well-known/openid-configuration"
	PathJWKS           = "/v1/iam/.well-known/jwks"
	PathRootJWKS       = "/.well-known/jwks"
	PathAuthorize      = "/v1/iam/oauth/authorize"
	PathToken          = "/v1/iam/oauth/token"
	PathUserinfo       = "/v1/iam/oauth/userinfo"
	PathIntrospect     = "/v1/iam/oauth/introspect"
	PathRevoke         = "/v1/iam/oauth/revoke"
	PathLogout         = "/v1/iam/oauth/logout"
	PathDevice         = "/v1/iam/oauth/device"
	PathLogin          = "/v1/iam/login"
	discoveryMaxAgeHdr = "public, max-age=300"
	jwksMaxAgeHdr      = "public, max-age=60"
)

// Handler serves the issuer's public endpoints: OIDC discovery at
// PathDiscovery and PathIAMDiscovery, the JWKS at PathJWKS and PathRootJWKS
// (GET and HEAD, CORS-open). The other endpoints of spec/iam.md, which the
// dev issuer does not implement, answer 501 and any other path 404, both
// with a JSON error envelope — never HTML. Mount it at "/" or on the
// "/.well-known/" and "/v1/iam/" prefixes; it needs the full request path.
func (d *DevIssuer) Handler() http.Handler {
	discovery, _ := json.Marshal(d.discovery()) // plain strings: cannot fail
	jwks, _ := json.Marshal(d.jwks())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case PathDiscovery, PathIAMDiscovery:
			serveDocument(w, r, discovery, discoveryMaxAgeHdr, "application/json")
		case PathJWKS, PathRootJWKS:
			serveDocument(w, r, jwks, jwksMaxAgeHdr, "application/jwk-set+json")
		case PathAuthorize, PathToken, PathUserinfo, PathIntrospect, PathRevoke, PathLogout, PathDevice, PathLogin:
			writeError(w, http.StatusNotImplemented, "not_implemented",
				"This endpoint is not implemented by the development issuer; use `base token` to mint tokens.")
		default:
			writeError(w, http.StatusNotFound, "not_found", "The requested resource wasn't found.")
		}
	})
}

// serveDocument answers GET/HEAD with a static JSON body, 405 otherwise.
func serveDocument(w http.ResponseWriter, r *http.Request, body []byte, cacheControl, contentType string) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method not allowed.")
		return
	}
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", cacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(body)
	}
}

// writeError writes Base's JSON error envelope {code, message, data}, with
// the OAuth error fields alongside for OAuth clients.
func writeError(w http.ResponseWriter, status int, code, message string) {
	body, _ := json.Marshal(map[string]any{
		"code":              status,
		"message":           message,
		"data":              map[string]any{},
		"error":             code,
		"error_description": message,
	})
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	w.Write(body)
}

// discoveryDocument is the OIDC discovery document (spec/iam.md).
type discoveryDocument struct {
	Issuer                            string   `json:"issuer"`
	AuthorizationEndpoint             string   `json:"authorization_endpoint"`
	TokenEndpoint                     string   `json:"token_endpoint"`
	UserinfoEndpoint                  string   `json:"userinfo_endpoint"`
	JWKSURI                           string   `json:"jwks_uri"`
	IntrospectionEndpoint             string   `json:"introspection_endpoint"`
	RevocationEndpoint                string   `json:"revocation_endpoint"`
	EndSessionEndpoint                string   `json:"end_session_endpoint"`
	DeviceAuthorizationEndpoint       string   `json:"device_authorization_endpoint"`
	ResponseTypesSupported            []string `json:"response_types_supported"`
	ResponseModesSupported            []string `json:"response_modes_supported"`
	GrantTypesSupported               []string `json:"grant_types_supported"`
	SubjectTypesSupported             []string `json:"subject_types_supported"`
	IDTokenSigningAlgValuesSupported  []string `json:"id_token_signing_alg_values_supported"`
	ScopesSupported                   []string `json:"scopes_supported"`
	TokenEndpointAuthMethodsSupported []string `json:"token_endpoint_auth_methods_supported"`
	CodeChallengeMethodsSupported     []string `json:"code_challenge_methods_supported"`
	ClaimsSupported                   []string `json:"claims_supported"`
}

func (d *DevIssuer) discovery() discoveryDocument {
	base := strings.TrimRight(d.issuer, "/")
	return discoveryDocument{
		Issuer:                            d.issuer,
		AuthorizationEndpoint:             base + PathAuthorize,
		TokenEndpoint:                     base + PathToken,
		UserinfoEndpoint:                  base + PathUserinfo,
		JWKSURI:                           base + PathJWKS,
		IntrospectionEndpoint:             base + PathIntrospect,
		RevocationEndpoint:                base + PathRevoke,
		EndSessionEndpoint:                base + PathLogout,
		DeviceAuthorizationEndpoint:       base + PathDevice,
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		GrantTypesSupported:               []string{"authorization_code", "refresh_token", "client_credentials", "password", "urn:ietf:params:oauth:grant-type:device_code"},
		SubjectTypesSupported:             []string{"public"},
		IDTokenSigningAlgValuesSupported:  []string{"RS256"},
		ScopesSupported:                   []string{"openid", "profile", "email", "offline_access"},
		TokenEndpointAuthMethodsSupported: []string{"client_secret_basic", "client_secret_post", "none"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "azp", "client_id", "scope",
			"owner", "organization", "orgs", "name", "email", "email_verified", "isAdmin", "isGlobalAdmin"},
	}
}

// jwk is one RSA public key of the JWKS (RFC 7517, RFC 7518 §6.3.1).
type jwk struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func (d *DevIssuer) jwks() map[string][]jwk {
	pub := &d.key.PublicKey
	return map[string][]jwk{"keys": {{
		Kty: "RSA",
		Use: "sig",
		Alg: "RS256",
		Kid: d.kid,
		N:   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}}
}
