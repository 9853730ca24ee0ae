package handler

// The shared harness of the in-process API tests: a real handler over a real
// SQLite store in t.TempDir(), trusting a real dev issuer, driven with
// httptest and checked with table-driven scenarios.

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/hanzoai/base"
	"github.com/hanzoai/base/auth"
	"github.com/hanzoai/base/iam"
	"github.com/hanzoai/base/store/sqlite"
)

// testIssuer is the issuer URL of the harness's dev issuer.
const testIssuer = "http://iam.test"

// testAuthorizeURL is the IAM authorize endpoint reported by auth-methods.
const testAuthorizeURL = "http://iam.test/oauth/authorize"

// apiHarness is one Base deployment under test: a data directory holding the
// dev issuer and the SQLite org files, and a handler over them.
type apiHarness struct {
	dir      string
	iss      *iam.DevIssuer
	store    *sqlite.Store
	verifier *auth.Verifier
	cfg      Config
	h        http.Handler
	tok      tokens
}

// tokens are the identities the scenarios use, minted once per harness.
type tokens struct {
	admin     string // isAdmin of org "default"
	alice     string // plain user of "default"
	bob       string // plain user of "default"
	acme      string // plain user of org "acme"
	acmeAdmin string // isAdmin of org "acme"
	root      string // platform superuser: owner "built-in"
	global    string // platform superuser: isGlobalAdmin, owner "ops"
	multi     string // user of "default" listing org "acme" in its orgs claim
	expired   string // alice, expired an hour ago
	forged    string // alice, signed by another key under the issuer's kid
	algNone   string // alice, alg none
	hs256     string // alice, HS256 keyed with the issuer's public key
	otherIss  string // alice, signed by the right key but another issuer
	noSub     string // verified token without a sub
}

// Claims of the harness users.
var (
	aliceClaims = map[string]any{"sub": "alice", "owner": "default", "email": "alice@example.com", "name": "Alice"}
	bobClaims   = map[string]any{"sub": "bob", "owner": "default", "email": "bob@example.com", "name": "Bob"}
)

// newAPI starts a harness; opts adjust the handler Config before New.
func newAPI(tb testing.TB, opts ...func(*Config)) *apiHarness {
	tb.Helper()
	dir := tb.TempDir()
	// Every harness gets its own dev issuer in its own directory, seeded
	// with one key generated per test binary (RSA key generation would
	// otherwise dominate the suite's run time).
	key, err := devIssuerFile()
	if err != nil {
		tb.Fatalf("dev issuer key: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "iam"), 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "iam", "dev-issuer.json"), key, 0o600); err != nil {
		tb.Fatal(err)
	}
	iss, err := iam.OpenDevIssuer(dir, testIssuer)
	if err != nil {
		tb.Fatalf("open dev issuer: %v", err)
	}
	v, err := auth.New(tb.Context(), auth.Config{Issuer: iss.Issuer(), Keys: iss.PublicKeys()})
	if err != nil {
		tb.Fatalf("new verifier: %v", err)
	}
	a := &apiHarness{dir: dir, iss: iss, verifier: v}
	a.cfg = Config{
		Verifier:        v,
		DefaultOrg:      "default",
		OrgDomains:      map[string]string{"acme.example.com": "acme", "default.example.com": "default"},
		IAMAuthorizeURL: testAuthorizeURL,
		IAMClientID:     "base-test",
	}
	for _, o := range opts {
		o(&a.cfg)
	}
	a.store, a.h = openHandler(tb, dir, a.cfg)
	a.tok = a.mintAll(tb)
	return a
}

// devIssuerFile is the state file of a dev issuer created once per test
// binary, copied into each harness's directory.
var devIssuerFile = sync.OnceValues(func() ([]byte, error) {
	dir, err := os.MkdirTemp("", "handler-test-iss-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if _, err := iam.OpenDevIssuer(dir, testIssuer); err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(dir, "iam", "dev-issuer.json"))
})

// forgeKey is an RSA key the harness issuer does not trust.
var forgeKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
})

// openHandler opens a second, independent store on dir and a handler over
// it, as another `base serve` process on the same --dir would.
func openHandler(tb testing.TB, dir string, cfg Config) (*sqlite.Store, http.Handler) {
	tb.Helper()
	st, err := sqlite.Open(sqlite.Config{Dir: dir})
	if err != nil {
		tb.Fatalf("open store: %v", err)
	}
	tb.Cleanup(func() { st.Close() })
	cfg.Store = st
	h, err := New(cfg)
	if err != nil {
		tb.Fatalf("handler.New: %v", err)
	}
	return st, h
}

// sibling returns another instance of the same deployment: its own store
// handle and handler on the same directory, trusting the same issuer.
func (a *apiHarness) sibling(tb testing.TB) *apiHarness {
	tb.Helper()
	b := *a
	b.store, b.h = openHandler(tb, a.dir, a.cfg)
	return &b
}

// mint signs claims with the harness issuer.
func (a *apiHarness) mint(tb testing.TB, claims map[string]any, ttl time.Duration) string {
	tb.Helper()
	tok, err := a.iss.Mint(claims, ttl)
	if err != nil {
		tb.Fatalf("mint: %v", err)
	}
	return tok
}

func (a *apiHarness) mintAll(tb testing.TB) tokens {
	tb.Helper()
	h := time.Hour
	t := tokens{
		admin:     a.mint(tb, map[string]any{"sub": "admin", "owner": "default", "isAdmin": true, "email": "admin@example.com"}, h),
		alice:     a.mint(tb, aliceClaims, h),
		bob:       a.mint(tb, bobClaims, h),
		acme:      a.mint(tb, map[string]any{"sub": "ann", "owner": "acme", "email": "ann@acme.test"}, h),
		acmeAdmin: a.mint(tb, map[string]any{"sub": "acme-boss", "owner": "acme", "isAdmin": true}, h),
		root:      a.mint(tb, map[string]any{"sub": "root", "owner": "built-in"}, h),
		global:    a.mint(tb, map[string]any{"sub": "ops-1", "owner": "ops", "isGlobalAdmin": true}, h),
		multi: a.mint(tb, map[string]any{"sub": "carol", "owner": "default",
			"orgs": []any{map[string]any{"org": "default", "role": "member"}, map[string]any{"org": "acme", "role": "member"}}}, h),
		expired: a.mint(tb, aliceClaims, -time.Hour),
		noSub:   a.mint(tb, map[string]any{"owner": "default", "isAdmin": true}, h),
	}
	t.forged = forgeToken(tb, a.iss.KeyID(), aliceClaims)
	t.algNone = unsignedToken(tb, a.iss.KeyID(), aliceClaims)
	t.hs256 = hmacWithPublicKey(tb, a.iss, aliceClaims)
	t.otherIss = a.signedAs(tb, "http://evil.test", aliceClaims)
	return t
}

// stdClaims adds iss/exp/iat/nbf to claims.
func stdClaims(iss string, claims map[string]any) jwt.MapClaims {
	now := time.Now()
	m := jwt.MapClaims{"iss": iss, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range claims {
		m[k] = v
	}
	return m
}

// forgeToken signs a well-formed RS256 token with a fresh key under the
// issuer's kid: the signature cannot verify.
func forgeToken(tb testing.TB, kid string, claims map[string]any) string {
	tb.Helper()
	key, err := forgeKey()
	if err != nil {
		tb.Fatal(err)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, stdClaims(testIssuer, claims))
	t.Header["kid"] = kid
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// unsignedToken is an alg "none" token.
func unsignedToken(tb testing.TB, kid string, claims map[string]any) string {
	tb.Helper()
	t := jwt.NewWithClaims(jwt.SigningMethodNone, stdClaims(testIssuer, claims))
	t.Header["kid"] = kid
	s, err := t.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// hmacWithPublicKey is the classic algorithm-confusion forgery: HS256 keyed
// with the issuer's public key (PEM), which a careless verifier accepts.
func hmacWithPublicKey(tb testing.TB, iss *iam.DevIssuer, claims map[string]any) string {
	tb.Helper()
	pub := iss.PublicKeys()[iss.KeyID()]
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, stdClaims(testIssuer, claims))
	t.Header["kid"] = iss.KeyID()
	s, err := t.SignedString(pemKey)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// signedAs signs claims with the harness issuer's own private key (read
// from its key file under the data directory) but with iss set to iss: a
// correctly signed token from the wrong issuer.
func (a *apiHarness) signedAs(tb testing.TB, iss string, claims map[string]any) string {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(a.dir, "iam", "dev-issuer.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var kf struct {
		PrivateKey string `json:"privateKey"`
	}
	if err := json.Unmarshal(raw, &kf); err != nil {
		tb.Fatal(err)
	}
	blk, _ := pem.Decode([]byte(kf.PrivateKey))
	if blk == nil {
		tb.Fatal("no PEM private key in dev-issuer.json")
	}
	key, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, stdClaims(iss, claims))
	t.Header["kid"] = a.iss.KeyID()
	s, err := t.SignedString(key)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// --- requests -------------------------------------------------------------

// apiRequest is one HTTP request to the handler. Body nil sends no body; a
// string or []byte is sent verbatim; anything else is JSON-encoded.
// Content-Type defaults to application/json, as the SDK sends it on every
// request.
type apiRequest struct {
	method  string
	path    string
	token   string
	headers map[string]string
	body    any
}

// apiResponse is a recorded response with its body decoded as JSON (nil
// when the body is empty or not JSON).
type apiResponse struct {
	Code   int
	Header http.Header
	Raw    []byte
	JSON   any
}

func (a *apiHarness) do(tb testing.TB, r apiRequest) *apiResponse {
	tb.Helper()
	return serve(tb, a.h, r)
}

func serve(tb testing.TB, h http.Handler, r apiRequest) *apiResponse {
	tb.Helper()
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			tb.Fatalf("encode body: %v", err)
		}
		body = bytes.NewReader(j)
	}
	req := httptest.NewRequest(r.method, r.path, body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept-Language", "en-US")
	if r.token != "" {
		req.Header.Set("Authorization", r.token)
	}
	for k, v := range r.headers {
		if strings.EqualFold(k, "Host") {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := &apiResponse{Code: rec.Code, Header: rec.Header(), Raw: rec.Body.Bytes()}
	if len(bytes.TrimSpace(res.Raw)) > 0 {
		var v any
		if err := json.Unmarshal(res.Raw, &v); err == nil {
			res.JSON = v
		}
	}
	return res
}

// must performs r and fails unless the status is want; it returns the
// decoded JSON.
func (a *apiHarness) must(tb testing.TB, want int, r apiRequest) any {
	tb.Helper()
	res := a.do(tb, r)
	if res.Code != want {
		tb.Fatalf("%s %s: status %d, want %d; body %s", r.method, r.path, res.Code, want, res.Raw)
	}
	return res.JSON
}

// createCollection creates a collection as the default org's admin and
// returns the stored model.
func (a *apiHarness) createCollection(tb testing.TB, token string, body map[string]any) map[string]any {
	tb.Helper()
	v := a.must(tb, 200, apiRequest{method: "POST", path: "/v1/collections", token: token, body: body})
	return v.(map[string]any)
}

// createRecord creates a record and returns it.
func (a *apiHarness) createRecord(tb testing.TB, token, coll string, body map[string]any) map[string]any {
	tb.Helper()
	v := a.must(tb, 200, apiRequest{method: "POST", path: "/v1/collections/" + coll + "/records", token: token, body: body})
	return v.(map[string]any)
}

// --- scenarios --------------------------------------------------------------

// scenario is one table row: a request and what must come back. want maps
// dot paths into the response JSON ("items.0.title", "data.fields.1.name.code";
// "" is the whole document) to expected values or matchers.
type scenario struct {
	name    string
	method  string
	path    string
	token   string
	headers map[string]string
	body    any
	status  int
	want    map[string]any
	check   func(tb testing.TB, res *apiResponse)
}

func (s scenario) request() apiRequest {
	return apiRequest{method: s.method, path: s.path, token: s.token, headers: s.headers, body: s.body}
}

// run runs the scenarios as subtests against h.
func runScenarios(t *testing.T, h http.Handler, scs []scenario) {
	t.Helper()
	for _, sc := range scs {
		name := sc.name
		if name == "" {
			name = sc.method + " " + sc.path
		}
		t.Run(name, func(t *testing.T) {
			res := serve(t, h, sc.request())
			checkResponse(t, sc, res)
		})
	}
}

// checkResponse compares res with sc's expectations. Every error response
// must carry the JSON envelope {status, message, data}.
func checkResponse(tb testing.TB, sc scenario, res *apiResponse) {
	tb.Helper()
	if res.Code != sc.status {
		tb.Errorf("%s %s: status %d, want %d; body %s", sc.method, sc.path, res.Code, sc.status, res.Raw)
		return
	}
	if res.Code >= 400 {
		checkEnvelope(tb, res)
	}
	for path, want := range sc.want {
		got, ok := lookup(res.JSON, path)
		if m, isM := want.(matcher); isM {
			if msg := m(got, ok); msg != "" {
				tb.Errorf("%s %s: %q %s; body %s", sc.method, sc.path, path, msg, res.Raw)
			}
			continue
		}
		if !ok {
			tb.Errorf("%s %s: %q missing, want %v; body %s", sc.method, sc.path, path, want, res.Raw)
			continue
		}
		if w := normalizeJSON(tb, want); !reflect.DeepEqual(got, w) {
			tb.Errorf("%s %s: %q = %s, want %s", sc.method, sc.path, path, jsonText(got), jsonText(w))
		}
	}
	if sc.check != nil {
		sc.check(tb, res)
	}
}

// checkEnvelope verifies the error envelope shape of a 4xx/5xx response.
func checkEnvelope(tb testing.TB, res *apiResponse) {
	tb.Helper()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		tb.Errorf("error response Content-Type %q, want application/json", ct)
	}
	m, ok := res.JSON.(map[string]any)
	if !ok {
		tb.Errorf("error body is not a JSON object: %s", res.Raw)
		return
	}
	if s, _ := m["status"].(float64); int(s) != res.Code {
		tb.Errorf("envelope status %v, want %d", m["status"], res.Code)
	}
	if msg, _ := m["message"].(string); msg == "" || !strings.HasSuffix(msg, ".") {
		tb.Errorf("envelope message %q is not a sentence", m["message"])
	}
	if _, ok := m["data"].(map[string]any); !ok {
		tb.Errorf("envelope data %v is not an object", m["data"])
	}
}

// lookup follows a dot path through decoded JSON: object keys and array
// indexes. The empty path is the document itself.
func lookup(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[seg]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// normalizeJSON turns a Go value into its decoded-JSON form (float64
// numbers, []any, map[string]any) for comparison.
func normalizeJSON(tb testing.TB, v any) any {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatalf("normalize %v: %v", v, err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		tb.Fatal(err)
	}
	return out
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// matcher checks a looked-up value (ok=false: the path does not exist) and
// returns a description of the mismatch, or "".
type matcher func(v any, ok bool) string

// absent requires the path not to exist.
var absent matcher = func(v any, ok bool) string {
	if ok {
		return "is present (" + jsonText(v) + "), want absent"
	}
	return ""
}

// present requires the path to exist, whatever its value.
var present matcher = func(_ any, ok bool) string {
	if !ok {
		return "is missing"
	}
	return ""
}

// hasLen requires an array or object of n elements.
func hasLen(n int) matcher {
	return func(v any, ok bool) string {
		switch x := v.(type) {
		case []any:
			if len(x) == n {
				return ""
			}
			return fmt.Sprintf("has %d elements, want %d", len(x), n)
		case map[string]any:
			if len(x) == n {
				return ""
			}
			return fmt.Sprintf("has %d keys, want %d", len(x), n)
		}
		return fmt.Sprintf("is %s, want a collection of %d", jsonText(v), n)
	}
}

// containsText requires a string containing sub.
func containsText(sub string) matcher {
	return func(v any, ok bool) string {
		if s, isS := v.(string); isS && strings.Contains(s, sub) {
			return ""
		}
		return fmt.Sprintf("is %s, want a string containing %q", jsonText(v), sub)
	}
}

// nonEmptyString requires a non-empty string.
var nonEmptyString matcher = func(v any, ok bool) string {
	if s, isS := v.(string); isS && s != "" {
		return ""
	}
	return "is " + jsonText(v) + ", want a non-empty string"
}

// ids returns the "id" of every element of the items array of a list
// response.
func ids(tb testing.TB, v any) []string {
	tb.Helper()
	items, ok := lookup(v, "items")
	if !ok {
		tb.Fatalf("no items in %s", jsonText(v))
	}
	out := []string{}
	for _, it := range items.([]any) {
		out = append(out, it.(map[string]any)["id"].(string))
	}
	return out
}

// itemIDs is a matcher on a list response's items: exactly these ids, in
// this order.
func itemIDs(want ...string) func(tb testing.TB, res *apiResponse) {
	return func(tb testing.TB, res *apiResponse) {
		tb.Helper()
		got := ids(tb, res.JSON)
		if want == nil {
			want = []string{}
		}
		if !reflect.DeepEqual(got, want) {
			tb.Errorf("items ids %v, want %v", got, want)
		}
	}
}

// str returns the string at path of v.
func str(tb testing.TB, v any, path string) string {
	tb.Helper()
	x, ok := lookup(v, path)
	s, isS := x.(string)
	if !ok || !isS {
		tb.Fatalf("%q is %s in %s, want a string", path, jsonText(x), jsonText(v))
	}
	return s
}

// --- fixtures ----------------------------------------------------------------

// blog is the fixture most scenarios run against, in org "default":
//
//   - posts: listRule/viewRule `published = true || author = @request.auth.id`,
//     createRule `@request.auth.id != "" && author = @request.auth.id`,
//     update/deleteRule `author = @request.auth.id`; a hidden field secret,
//     a unique slug, a multi select tags, a number views, autodates.
//   - notes: every rule "" (open to guests).
//   - vault: every rule null (superusers only).
//   - comments: a required relation post → posts (blocks deleting a post).
//   - likes: a cascading relation post → posts.
//
// Alice owns posts a1 (published) and a2 (draft); Bob owns b3 (published)
// and b4 (draft).
type blog struct {
	alice, bob          string // users mirror ids
	a1, a2, b3, b4      string // posts
	note, vaultRec      string
	comment, like       string // on b3 / a1
	postsID, commentsID string // collection ids
}

const (
	ruleVisible = `published = true || author = @request.auth.id`
	ruleOwner   = `author = @request.auth.id`
	ruleCreate  = `@request.auth.id != "" && author = @request.auth.id`
)

func field(name, typ string, opts ...any) map[string]any {
	m := map[string]any{"name": name, "type": typ}
	for i := 0; i+1 < len(opts); i += 2 {
		m[opts[i].(string)] = opts[i+1]
	}
	return m
}

func ruleSet(list, view, create, update, del any) map[string]any {
	return map[string]any{"listRule": list, "viewRule": view, "createRule": create, "updateRule": update, "deleteRule": del}
}

func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// seedBlog creates the blog fixture through the API.
func seedBlog(tb testing.TB, a *apiHarness) *blog {
	tb.Helper()
	b := &blog{}
	posts := a.createCollection(tb, a.tok.admin, merge(map[string]any{
		"name": "posts",
		"fields": []any{
			field("title", "text", "required", true),
			field("body", "editor"),
			field("views", "number"),
			field("published", "bool"),
			field("tags", "select", "values", []string{"a", "b", "c"}, "maxSelect", 3),
			field("author", "relation", "collectionId", "users", "maxSelect", 1),
			field("secret", "text", "hidden", true),
			field("slug", "text"),
			field("meta", "json"),
			field("created", "autodate", "onCreate", true),
			field("updated", "autodate", "onCreate", true, "onUpdate", true),
		},
		"indexes": []string{"CREATE UNIQUE INDEX `idx_posts_slug` ON `posts` (`slug`) WHERE `slug` != ''"},
	}, ruleSet(ruleVisible, ruleVisible, ruleCreate, ruleOwner, ruleOwner)))
	b.postsID = posts["id"].(string)
	a.createCollection(tb, a.tok.admin, merge(map[string]any{
		"name": "notes", "fields": []any{field("title", "text")},
	}, ruleSet("", "", "", "", "")))
	a.createCollection(tb, a.tok.admin, merge(map[string]any{
		"name": "vault", "fields": []any{field("title", "text")},
	}, ruleSet(nil, nil, nil, nil, nil)))
	comments := a.createCollection(tb, a.tok.admin, merge(map[string]any{
		"name": "comments", "fields": []any{
			field("text", "text"),
			field("post", "relation", "collectionId", "posts", "maxSelect", 1, "required", true),
		},
	}, ruleSet("", "", "", "", "")))
	b.commentsID = comments["id"].(string)
	a.createCollection(tb, a.tok.admin, merge(map[string]any{
		"name": "likes", "fields": []any{
			field("post", "relation", "collectionId", "posts", "maxSelect", 1, "cascadeDelete", true),
		},
	}, ruleSet("", "", "", "", "")))

	b.alice = userID("alice")
	b.bob = userID("bob")
	post := func(tok, title string, published bool, author, slug string) string {
		r := a.createRecord(tb, tok, "posts", map[string]any{
			"title": title, "published": published, "author": author, "slug": slug,
			"body": "<p>Hello <b>world</b>, this is " + title + "</p>", "tags": []string{"a"},
		})
		return r["id"].(string)
	}
	b.a1 = post(a.tok.alice, "A1", true, b.alice, "a-one")
	b.a2 = post(a.tok.alice, "A2", false, b.alice, "a-two")
	b.b3 = post(a.tok.bob, "B3", true, b.bob, "b-three")
	b.b4 = post(a.tok.bob, "B4", false, b.bob, "b-four")
	// The admin sets the secret of a1.
	a.must(tb, 200, apiRequest{method: "PATCH", path: "/v1/collections/posts/records/" + b.a1, token: a.tok.admin, body: map[string]any{"secret": "s3cr3t"}})
	b.note = a.createRecord(tb, "", "notes", map[string]any{"title": "hello"})["id"].(string)
	b.vaultRec = a.createRecord(tb, a.tok.admin, "vault", map[string]any{"title": "gold"})["id"].(string)
	b.comment = a.createRecord(tb, "", "comments", map[string]any{"text": "nice", "post": b.b3})["id"].(string)
	b.like = a.createRecord(tb, "", "likes", map[string]any{"post": b.a1})["id"].(string)
	return b
}

// userID is the users mirror id of an IAM subject.
func userID(sub string) string { return base.UserRecordID(sub) }

// formPart is one part of a multipart/form-data body built by formData; a
// non-empty file makes it a file part.
type formPart struct{ name, value, file string }

// formData encodes parts as multipart/form-data and returns the body and
// its Content-Type.
func formData(tb testing.TB, parts ...formPart) ([]byte, string) {
	tb.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts {
		var w io.Writer
		var err error
		if p.file != "" {
			w, err = mw.CreateFormFile(p.name, p.file)
		} else {
			w, err = mw.CreateFormField(p.name)
		}
		if err != nil {
			tb.Fatal(err)
		}
		if _, err := io.WriteString(w, p.value); err != nil {
			tb.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}
