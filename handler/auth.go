package handler

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/records"
)

// authCollection resolves {c} as an auth collection or answers 404.
func authCollection(r *http.Request, e *env) (*base.Collection, error) {
	c := e.svc.Schema.Collection(r.PathValue("c"))
	if c == nil || !c.IsAuth() {
		return nil, base.NotFound("Missing or invalid auth collection context.")
	}
	return c, nil
}

// authMethods reports the one login method Base has: the IAM as an OAuth2
// provider, with a fresh PKCE pair and state for the client to use.
func (h *Handler) authMethods(w http.ResponseWriter, r *http.Request, e *env) error {
	if _, err := authCollection(r, e); err != nil {
		return err
	}
	providers := []any{}
	authorize := h.cfg.IAMAuthorizeURL
	if h.cfg.IAMAuthorize != nil {
		authorize = h.cfg.IAMAuthorize(r.Context())
	}
	if authorize != "" {
		verifier := randomString(43, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
		sum := sha256.Sum256([]byte(verifier))
		challenge := base64.RawURLEncoding.EncodeToString(sum[:])
		state := randomString(30, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
		q := url.Values{}
		q.Set("client_id", h.cfg.IAMClientID)
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", "S256")
		q.Set("response_type", "code")
		q.Set("scope", "openid profile email")
		q.Set("state", state)
		sep := "?"
		if strings.Contains(authorize, "?") {
			sep = "&"
		}
		authURL := authorize + sep + q.Encode() + "&redirect_uri="
		providers = append(providers, map[string]any{
			"name": "iam", "displayName": "IAM", "state": state,
			"authURL": authURL, "authUrl": authURL,
			"codeVerifier": verifier, "codeChallenge": challenge, "codeChallengeMethod": "S256",
		})
	}
	writeJSON(w, r, http.StatusOK, map[string]any{
		"password":         map[string]any{"enabled": false, "identityFields": []string{}},
		"oauth2":           map[string]any{"enabled": len(providers) > 0, "providers": providers},
		"mfa":              map[string]any{"enabled": false, "duration": 0},
		"otp":              map[string]any{"enabled": false, "duration": 0},
		"authProviders":    providers,
		"usernamePassword": false,
		"emailPassword":    false,
	})
	return nil
}

// authRefresh echoes the caller's token with its users mirror record.
// Renewing tokens is the IAM's job.
func (h *Handler) authRefresh(w http.ResponseWriter, r *http.Request, e *env) error {
	c, err := authCollection(r, e)
	if err != nil {
		return err
	}
	if e.id.Guest() {
		return base.Unauthorized("The request requires valid record authorization token.")
	}
	if c.Name != base.UsersCollection {
		return base.Forbidden("The request requires auth record from " + base.UsersCollection + " collection.")
	}
	ctx := r.Context()
	self := &records.Request{Identity: &base.Identity{Org: e.id.Org, Superuser: true}, Method: r.Method, Context: "default"}
	rec, err := e.svc.View(ctx, e.db, c, e.id.UserID, "", self)
	if err != nil {
		return err
	}
	if !e.id.IsSuperuser() && c.AuthRule != nil {
		ok, err := e.svc.Satisfies(ctx, e.db, c, rec.ID(), *c.AuthRule, e.req)
		if err != nil {
			return err
		}
		if !ok {
			return base.Forbidden("The request doesn't satisfy the collection requirements to authenticate.")
		}
	}
	if ex := r.URL.Query().Get("expand"); ex != "" {
		if err := e.svc.Expand(ctx, e.db, []*records.Record{rec}, ex, e.req); err != nil {
			return err
		}
	}
	out := e.svc.Export(rec, e.req)
	if email, ok := rec.Get("email").(string); ok {
		out["email"] = email
	}
	writeJSON(w, r, http.StatusOK, map[string]any{"token": e.id.Token, "record": out})
	return nil
}

// randomString returns n characters drawn uniformly from alphabet
// (rejection sampling, so no character is favoured).
func randomString(n int, alphabet string) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		rand.Read(buf)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}
