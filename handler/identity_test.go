package handler

import (
	"net/url"
	"strings"
	"testing"
)

func TestHealthAndNotFound(t *testing.T) {
	a := newAPI(t)
	healthy := map[string]any{"": map[string]any{"code": 200, "message": "API is healthy.", "data": map[string]any{}}}
	notFound := map[string]any{"status": 404, "message": "The requested resource wasn't found.", "data": map[string]any{}}
	runScenarios(t, a.h, []scenario{
		{method: "GET", path: "/v1/health", status: 200, want: healthy},
		{method: "GET", path: "/api/health", status: 200, want: healthy},
		{name: "health with a token", method: "GET", path: "/v1/health", token: a.tok.alice, status: 200, want: healthy},
		{name: "health with a broken token", method: "GET", path: "/api/health", token: "garbage", status: 200, want: healthy},
		{method: "GET", path: "/v1/nope", status: 404, want: notFound},
		{method: "GET", path: "/api/nope/deeper", status: 404, want: notFound},
		{method: "GET", path: "/", status: 404, want: notFound},
		{method: "GET", path: "/v2/health", status: 404, want: notFound},
		{method: "POST", path: "/v1/unknown", body: map[string]any{"x": 1}, status: 404, want: notFound},
		{name: "collection sub-route that does not exist", method: "GET", path: "/v1/collections/users/nope", token: a.tok.admin, status: 404},
		{name: "unsupported method on a known path", method: "PUT", path: "/v1/collections/users/records", status: 404, want: notFound},
	})
}

func TestCustomPrefix(t *testing.T) {
	a := newAPI(t, func(c *Config) { c.Prefix = "/base/" })
	runScenarios(t, a.h, []scenario{
		{method: "GET", path: "/base/health", status: 200},
		{method: "GET", path: "/api/health", status: 200},
		{method: "GET", path: "/v1/health", status: 404},
		{method: "GET", path: "/base/collections", token: a.tok.admin, status: 200},
	})
}

// TestTokens runs every kind of token against a superuser-only route (401
// for guests, 403 for users) and an open route (never an error).
func TestTokens(t *testing.T) {
	a := newAPI(t)
	seedBlog(t, a)
	tk := a.tok
	cases := []struct {
		name  string
		token string
		org   string // X-Org-Id, if any
		// status of GET /v1/collections: 200 superuser, 403 user, 401 guest.
		status int
	}{
		{"no token", "", "", 401},
		{"org admin (isAdmin)", tk.admin, "", 200},
		{"org admin with Bearer", "Bearer " + tk.admin, "", 200},
		{"org admin with lower-case bearer", "bearer " + tk.admin, "", 200},
		{"plain user", tk.alice, "", 403},
		{"plain user with Bearer", "Bearer " + tk.alice, "", 403},
		{"platform superuser (owner built-in)", tk.root, "", 200},
		{"platform superuser (owner superuser)", a.mint(t, map[string]any{"sub": "su", "owner": "superuser"}, 3600e9), "", 200},
		{"platform superuser (isGlobalAdmin)", tk.global, "default", 200},
		{"isAdmin as a string", a.mint(t, map[string]any{"sub": "s-admin", "owner": "default", "isAdmin": "true"}, 3600e9), "", 200},
		{"orgs claim role admin", a.mint(t, map[string]any{"sub": "r-admin", "owner": "other", "orgs": []any{map[string]any{"org": "default", "role": "admin"}}}, 3600e9), "default", 200},
		{"orgs claim role owner", a.mint(t, map[string]any{"sub": "r-owner", "owner": "other", "orgs": []any{map[string]any{"org": "default", "role": "owner"}}}, 3600e9), "default", 200},
		{"orgs claim role member", a.mint(t, map[string]any{"sub": "r-member", "owner": "other", "orgs": []any{map[string]any{"org": "default", "role": "member"}}}, 3600e9), "default", 403},
		{"expired", tk.expired, "", 401},
		{"forged signature", tk.forged, "", 401},
		{"alg none", tk.algNone, "", 401},
		{"HS256 keyed with the public key", tk.hs256, "", 401},
		{"right key, wrong issuer", tk.otherIss, "", 401},
		{"no sub", tk.noSub, "", 401},
		{"garbage", "not.a.jwt", "", 401},
		{"empty Bearer", "Bearer ", "", 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hdr := map[string]string{}
			if c.org != "" {
				hdr["X-Org-Id"] = c.org
			}
			res := a.do(t, apiRequest{method: "GET", path: "/v1/collections", token: c.token, headers: hdr})
			checkResponse(t, scenario{method: "GET", path: "/v1/collections", status: c.status}, res)
			// An invalid token never fails an open route: it is a guest.
			res = a.do(t, apiRequest{method: "GET", path: "/v1/collections/notes/records", token: c.token, headers: hdr})
			if res.Code != 200 {
				t.Errorf("open route with this token: status %d, want 200; %s", res.Code, res.Raw)
			}
		})
	}

	t.Run("invalid tokens act as guests on rules", func(t *testing.T) {
		for _, tok := range []string{tk.expired, tk.forged, tk.algNone, tk.hs256, tk.otherIss} {
			// Alice's drafts stay hidden: the token is not Alice.
			res := a.do(t, apiRequest{method: "GET", path: "/v1/collections/posts/records", token: tok})
			if n, _ := lookup(res.JSON, "totalItems"); res.Code != 200 || n != float64(2) {
				t.Errorf("token %.20s…: status %d totalItems %v, want 200 and 2 (guest view)", tok, res.Code, n)
			}
		}
	})
	t.Run("rejected tokens get no users mirror and no admin rights", func(t *testing.T) {
		mallory := map[string]any{"sub": "mallory", "owner": "default", "isAdmin": true}
		for name, tok := range map[string]string{
			"forged":   forgeToken(t, a.iss.KeyID(), mallory),
			"alg none": unsignedToken(t, a.iss.KeyID(), mallory),
			"hs256":    hmacWithPublicKey(t, a.iss, mallory),
			"expired":  a.mint(t, mallory, -3600e9),
			"issuer":   a.signedAs(t, "http://evil.test", mallory),
		} {
			if res := a.do(t, apiRequest{method: "GET", path: "/v1/collections/vault/records", token: tok}); res.Code != 403 {
				t.Errorf("%s: locked collection: status %d, want 403 (guest)", name, res.Code)
			}
			a.do(t, apiRequest{method: "GET", path: "/v1/collections/notes/records", token: tok})
		}
		res := a.do(t, apiRequest{method: "GET", path: "/v1/collections/users/records/" + userID("mallory"), token: tk.admin})
		if res.Code != 404 {
			t.Errorf("mallory has a users mirror record: %d %s", res.Code, res.Raw)
		}
	})
}

// TestOrgs covers org selection and isolation: tokens' owner, X-Org-Id,
// the orgs claim, platform superusers and guests by host.
func TestOrgs(t *testing.T) {
	a := newAPI(t)
	b := seedBlog(t, a)
	tk := a.tok
	// acme gets its own notes collection and record.
	acmeNotes := a.createCollection(t, tk.acmeAdmin, merge(map[string]any{"name": "notes", "fields": []any{field("title", "text")}}, ruleSet("", "", "", "", "")))
	acmeNote := a.createRecord(t, tk.acme, "notes", map[string]any{"title": "acme note"})["id"].(string)
	acmeID := acmeNotes["id"].(string)
	h := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	notes := "/v1/collections/notes/records"
	scs := []scenario{
		{name: "acme user sees acme's notes only", method: "GET", path: notes, token: tk.acme,
			status: 200, check: itemIDs(acmeNote)},
		{name: "default user sees default's notes only", method: "GET", path: notes, token: tk.alice,
			status: 200, check: itemIDs(b.note)},
		{name: "another org's record id is 404", method: "GET", path: notes + "/" + b.note, token: tk.acme,
			status: 404},
		{name: "another org's record cannot be updated", method: "PATCH", path: notes + "/" + b.note, token: tk.acme, body: map[string]any{"title": "x"},
			status: 404},
		{name: "another org's record cannot be deleted", method: "DELETE", path: notes + "/" + b.note, token: tk.acme,
			status: 404},
		{name: "another org's record is 404 even for its admin", method: "GET", path: notes + "/" + b.note, token: tk.acmeAdmin,
			status: 404},
		{name: "another org's collection is missing", method: "GET", path: "/v1/collections/posts/records", token: tk.acme,
			status: 404, want: map[string]any{"message": "Missing collection context."}},
		{name: "another org's collection id is missing", method: "GET", path: "/v1/collections/" + b.postsID + "/records", token: tk.acmeAdmin,
			status: 404},
		{name: "org admin lists only its org's collections", method: "GET", path: "/v1/collections?sort=name", token: tk.acmeAdmin,
			status: 200, want: map[string]any{"totalItems": 2, "items.0.name": "notes", "items.1.name": "users", "items.0.id": acmeID}},
		{name: "org admin is not a superuser elsewhere", method: "GET", path: "/v1/collections", token: tk.acmeAdmin, headers: h("X-Org-Id", "default"),
			status: 403},
		{name: "X-Org-Id of an unlisted org", method: "GET", path: notes, token: tk.alice, headers: h("X-Org-Id", "acme"),
			status: 403},
		{name: "X-Org-Id of the token's own org", method: "GET", path: notes, token: tk.alice, headers: h("X-Org-Id", "default"),
			status: 200, check: itemIDs(b.note)},
		{name: "orgs claim selects a listed org", method: "GET", path: notes, token: tk.multi, headers: h("X-Org-Id", "acme"),
			status: 200, check: itemIDs(acmeNote)},
		{name: "orgs claim without X-Org-Id uses the owner", method: "GET", path: notes, token: tk.multi,
			status: 200, check: itemIDs(b.note)},
		{name: "orgs claim, unlisted org", method: "GET", path: notes, token: tk.multi, headers: h("X-Org-Id", "zeta"),
			status: 403},
		{name: "orgs member is not a superuser of the listed org", method: "GET", path: "/v1/collections", token: tk.multi, headers: h("X-Org-Id", "acme"),
			status: 403},
		{name: "platform superuser picks any org", method: "GET", path: "/v1/collections?sort=name", token: tk.root, headers: h("X-Org-Id", "acme"),
			status: 200, want: map[string]any{"totalItems": 2, "items.0.id": acmeID}},
		{name: "platform superuser without X-Org-Id acts in the default org", method: "GET", path: "/v1/collections/vault/records", token: tk.root,
			status: 200, check: itemIDs(b.vaultRec)},
		{name: "isGlobalAdmin picks any org", method: "GET", path: "/v1/collections/notes/records", token: tk.global, headers: h("X-Org-Id", "acme"),
			status: 200, check: itemIDs(acmeNote)},
		{name: "isGlobalAdmin bypasses rules in the chosen org", method: "GET", path: "/v1/collections/vault/records", token: tk.global, headers: h("X-Org-Id", "default"),
			status: 200, check: itemIDs(b.vaultRec)},
		{name: "guest by host map", method: "GET", path: notes, headers: h("Host", "acme.example.com"),
			status: 200, check: itemIDs(acmeNote)},
		{name: "guest by host map with a port", method: "GET", path: notes, headers: h("Host", "acme.example.com:8090"),
			status: 200, check: itemIDs(acmeNote)},
		{name: "guest by host map cannot reach another org's id", method: "GET", path: notes + "/" + b.note, headers: h("Host", "acme.example.com"),
			status: 404},
		{name: "guest host map wins over X-Org-Id", method: "GET", path: notes, headers: h("Host", "default.example.com", "X-Org-Id", "acme"),
			status: 200, check: itemIDs(b.note)},
		{name: "guest by X-Org-Id", method: "GET", path: notes, headers: h("X-Org-Id", "acme"),
			status: 200, check: itemIDs(acmeNote)},
		{name: "guest defaults to the default org", method: "GET", path: notes,
			status: 200, check: itemIDs(b.note)},
		{name: "guest with an invalid org name", method: "GET", path: notes, headers: h("X-Org-Id", "Bad Org!"),
			status: 400},
		{name: "guest with a path-like org name", method: "GET", path: notes, headers: h("X-Org-Id", "../default"),
			status: 400},
		{name: "a guest never creates an org", method: "GET", path: "/v1/collections/users/records", headers: h("X-Org-Id", "fresh"),
			status: 404, want: map[string]any{"message": "Missing collection context."}},
		{name: "an org is created on a user's first use", method: "GET", path: "/v1/collections/users/records", token: tk.root, headers: h("X-Org-Id", "fresh2"),
			status: 200, check: itemIDs(userID("root"))},
		{name: "then guests see it", method: "GET", path: "/v1/collections/users/records", headers: h("X-Org-Id", "fresh2"),
			status: 200, check: itemIDs()},
	}
	runScenarios(t, a.h, scs)

	t.Run("mirror records live in the org of the request", func(t *testing.T) {
		carol := userID("carol")
		a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/users/records/" + carol, token: tk.multi, headers: h("X-Org-Id", "acme")})
		acmeUsers := a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/users/records?filter=" + url.QueryEscape(`sub = "carol"`), token: tk.acmeAdmin})
		if n, _ := lookup(acmeUsers, "totalItems"); n != float64(1) {
			t.Errorf("carol in acme: %v, want 1", n)
		}
		annInDefault := a.must(t, 200, apiRequest{method: "GET", path: "/v1/collections/users/records?filter=" + url.QueryEscape(`sub = "ann"`), token: tk.admin})
		if n, _ := lookup(annInDefault, "totalItems"); n != float64(0) {
			t.Errorf("acme's ann has a mirror record in default: %v", n)
		}
	})
	t.Run("records created in one org do not appear in another", func(t *testing.T) {
		a.createRecord(t, tk.multi, "notes", map[string]any{"title": "via orgs claim"})
		res := a.must(t, 200, apiRequest{method: "GET", path: notes, token: tk.multi, headers: h("X-Org-Id", "acme")})
		if n, _ := lookup(res, "totalItems"); n != float64(1) {
			t.Errorf("acme notes: %v, want 1 (the default-org create must not leak)", n)
		}
	})
}

func TestSecurityAndCORSHeaders(t *testing.T) {
	a := newAPI(t)
	seedBlog(t, a)
	security := func(tb testing.TB, res *apiResponse) {
		tb.Helper()
		for k, want := range map[string]string{
			"X-Xss-Protection":            "1; mode=block",
			"X-Content-Type-Options":      "nosniff",
			"X-Frame-Options":             "SAMEORIGIN",
			"Cross-Origin-Opener-Policy":  "same-origin",
			"Access-Control-Allow-Origin": "*",
		} {
			if got := res.Header.Get(k); got != want {
				tb.Errorf("%s = %q, want %q", k, got, want)
			}
		}
	}
	jsonType := func(tb testing.TB, res *apiResponse) {
		tb.Helper()
		security(tb, res)
		if ct := res.Header.Get("Content-Type"); ct == "" || !strings.HasPrefix(ct, "application/json") {
			tb.Errorf("Content-Type = %q, want application/json", ct)
		}
	}
	origin := map[string]string{"Origin": "https://app.example"}
	runScenarios(t, a.h, []scenario{
		{name: "health", method: "GET", path: "/v1/health", headers: origin, status: 200, check: jsonType},
		{name: "list", method: "GET", path: "/api/collections/notes/records", headers: origin, status: 200, check: jsonType},
		{name: "404", method: "GET", path: "/v1/nope", headers: origin, status: 404, check: jsonType},
		{name: "403", method: "GET", path: "/v1/collections/vault/records", status: 403, check: jsonType},
		{name: "401", method: "GET", path: "/v1/collections", status: 401, check: jsonType},
		{name: "204", method: "DELETE", path: "/v1/collections/notes/records/" + a.createRecord(t, "", "notes", map[string]any{})["id"].(string), status: 204, check: security},
		{name: "preflight", method: "OPTIONS", path: "/api/collections/posts/records",
			headers: map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type,accept-language"},
			status:  204, check: func(tb testing.TB, res *apiResponse) {
				tb.Helper()
				security(tb, res)
				if got := res.Header.Get("Access-Control-Allow-Headers"); got != "authorization,content-type,accept-language" {
					tb.Errorf("Access-Control-Allow-Headers = %q", got)
				}
				methods := res.Header.Get("Access-Control-Allow-Methods")
				for _, m := range []string{"GET", "HEAD", "PUT", "PATCH", "POST", "DELETE"} {
					if !containsWord(methods, m) {
						tb.Errorf("Access-Control-Allow-Methods = %q lacks %s", methods, m)
					}
				}
			}},
		{name: "preflight of an unknown route", method: "OPTIONS", path: "/v1/whatever",
			headers: map[string]string{"Origin": "https://x.example", "Access-Control-Request-Method": "GET"},
			status:  204, check: security},
	})

	t.Run("restricted origins", func(t *testing.T) {
		r := newAPI(t, func(c *Config) { c.CORSOrigins = []string{"https://good.example"} })
		res := r.do(t, apiRequest{method: "GET", path: "/v1/health", headers: map[string]string{"Origin": "https://good.example"}})
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "https://good.example" {
			t.Errorf("allowed origin: Access-Control-Allow-Origin = %q", got)
		}
		res = r.do(t, apiRequest{method: "GET", path: "/v1/health", headers: map[string]string{"Origin": "https://evil.example"}})
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("foreign origin: Access-Control-Allow-Origin = %q, want none", got)
		}
	})
}

func containsWord(list, w string) bool {
	for _, part := range strings.Split(list, ",") {
		if strings.TrimSpace(part) == w {
			return true
		}
	}
	return false
}
