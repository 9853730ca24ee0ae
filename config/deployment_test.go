package config_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/hanzoai/base/config"
	"github.com/hanzoai/base/files/s3"
	"github.com/hanzoai/base/iam"
	"github.com/hanzoai/base/internal/testsrv"
)

// TestInstancesOfOneDeployment opens three handlers the way the
// serverless mains do, from the environment the Terraform roots set —
// PostgreSQL, S3 files, Redis, an external IAM, each its own /tmp data
// directory, as separate Lambda or Cloud Run instances are. Two share
// BASE_FILE_TOKEN_SECRET: a protected file uploaded through one and a file
// token minted by it are served by the other. The third, without the
// shared secret, refuses that token: without file_token_secret, a token
// works only on the instance that minted it.
func TestInstancesOfOneDeployment(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PostgreSQL, versitygw and Redis")
	}
	ctx := context.Background()
	pg := testsrv.Postgres(t)
	gw := testsrv.VersityGW(t)
	rd := testsrv.StartRedis(t)
	st, err := s3.New(s3.Config{Endpoint: gw.Endpoint, Bucket: "files", Region: gw.Region, AccessKey: gw.AccessKey, SecretKey: gw.SecretKey, ForcePathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	bucket := "files"
	if _, err := st.Client().CreateBucket(ctx, &awss3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatal(err)
	}
	issuer := testsrv.DevIssuer(t)

	deployment := map[string]string{
		"BASE_STORE": "postgres", "BASE_STORE_URL": pg.URL, "BASE_REDIS_URL": rd.URL(),
		"BASE_FILES": "s3", "S3_ENDPOINT": gw.Endpoint, "S3_BUCKET": bucket, "S3_REGION": gw.Region,
		"S3_ACCESS_KEY": gw.AccessKey, "S3_SECRET_KEY": gw.SecretKey, "S3_FORCE_PATH_STYLE": "true",
		"IAM_ENDPOINT": issuer.Issuer(), "BASE_FILE_TOKEN_SECRET": "0123456789abcdef0123456789abcdef",
	}
	instance := func(shared bool) http.Handler {
		e := maps.Clone(deployment)
		e["BASE_DIR"] = t.TempDir()
		if !shared {
			delete(e, "BASE_FILE_TOKEN_SECRET")
		}
		cfg, err := config.FromEnv(env(e))
		if err != nil {
			t.Fatal(err)
		}
		d, err := config.OpenDeployment(ctx, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d.Handler
	}
	a, b, lone := instance(true), instance(true), instance(false)

	mint := func(c iam.UserClaims) string {
		tok, err := issuer.Mint(c.Map(), time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	admin := mint(iam.UserClaims{Subject: "default/root", Org: "default", Admin: true})
	alice := mint(iam.UserClaims{Subject: "default/alice", Org: "default"})
	call := func(h http.Handler, method, path, token, ctype string, body []byte) (int, []byte) {
		t.Helper()
		r := httptest.NewRequest(method, path, bytes.NewReader(body))
		if token != "" {
			r.Header.Set("Authorization", token)
		}
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		b, _ := io.ReadAll(w.Result().Body)
		return w.Code, b
	}
	decode := func(b []byte) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%v: %s", err, b)
		}
		return m
	}

	coll, _ := json.Marshal(map[string]any{
		"name": "vault", "type": "base",
		"fields":   []any{map[string]any{"name": "secret", "type": "file", "protected": true, "maxSelect": 1, "maxSize": 1 << 20}},
		"listRule": `@request.auth.id != ""`, "viewRule": `@request.auth.id != ""`, "createRule": `@request.auth.id != ""`,
	})
	code, body := call(a, "POST", "/v1/collections", admin, "application/json", coll)
	if code != 200 {
		t.Fatalf("create collection on A: %d %s", code, body)
	}
	cid := decode(body)["id"].(string)

	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("secret", "secret.txt")
	io.WriteString(fw, "top secret, in S3")
	mw.Close()
	code, body = call(a, "POST", "/v1/collections/vault/records", alice, mw.FormDataContentType(), form.Bytes())
	if code != 200 {
		t.Fatalf("upload on A: %d %s", code, body)
	}
	rec := decode(body)
	code, body = call(a, "POST", "/v1/files/token", alice, "", nil)
	if code != 200 {
		t.Fatalf("file token on A: %d %s", code, body)
	}
	token := decode(body)["token"].(string)

	path := "/v1/files/" + cid + "/" + rec["id"].(string) + "/" + rec["secret"].(string) + "?token=" + token
	if code, body := call(b, "GET", path, "", "", nil); code != 200 || string(body) != "top secret, in S3" {
		t.Errorf("B serving A's file with A's token: %d %q", code, body)
	}
	if code, _ := call(lone, "GET", path, "", "", nil); code != 404 {
		t.Errorf("an instance without the shared secret: %d, want 404 (token refused)", code)
	}
	// The record itself is in the shared PostgreSQL store: B lists it.
	if code, body := call(b, "GET", "/v1/collections/vault/records", alice, "", nil); code != 200 || decode(body)["totalItems"] != 1.0 {
		t.Errorf("B listing: %d %s", code, body)
	}
}
