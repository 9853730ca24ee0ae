package s3_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hanzoai/base/files"
	"github.com/hanzoai/base/files/filestest"
	"github.com/hanzoai/base/files/s3"
	"github.com/hanzoai/base/internal/testsrv"
)

var bucketSeq atomic.Int64

// newBucket returns a Storage over a fresh bucket of srv.
func newBucket(t *testing.T, srv *testsrv.S3, pathStyle bool) *s3.Storage {
	t.Helper()
	st, err := s3.New(s3.Config{
		Endpoint: srv.Endpoint, Bucket: fmt.Sprintf("bucket-%d", bucketSeq.Add(1)), Region: srv.Region,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, ForcePathStyle: pathStyle,
		PartSize: s3.DefaultPartSize,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateBucket(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}

func TestConformance(t *testing.T) {
	srv := testsrv.VersityGW(t)
	filestest.Run(t, func(t *testing.T) files.Storage { return newBucket(t, srv, true) }, filestest.Options{})
}

// TestMultipartLeavesNothing checks that a failed multipart upload is
// aborted: no object and no pending upload data remain on the server.
func TestMultipartLeavesNothing(t *testing.T) {
	srv := testsrv.VersityGW(t)
	st := newBucket(t, srv, true)
	// Three full parts then a read error.
	r := &failAfter{r: filestest.Reader(1, 1<<40), n: 3*s3.DefaultPartSize + 100}
	if err := st.Put(t.Context(), "o/c/r/big", r, -1, ""); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	if _, err := st.Open(t.Context(), "o/c/r/big"); err == nil {
		t.Fatal("object exists after a failed upload")
	}
	var leftovers []string
	filepath.Walk(srv.Dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && info.Size() > 1<<20 {
			leftovers = append(leftovers, p)
		}
		return nil
	})
	if len(leftovers) > 0 {
		t.Errorf("upload data left on the server: %v", leftovers)
	}
}

type failAfter struct {
	r interface{ Read([]byte) (int, error) }
	n int
}

func (f *failAfter) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, fmt.Errorf("client went away")
	}
	p = p[:min(len(p), f.n)]
	n, err := f.r.Read(p)
	f.n -= n
	return n, err
}

// TestVirtualHostedStyle addresses the bucket as <bucket>.<host>: the
// request must reach the server with the bucket in the Host header. A
// resolver-free check: the storage's client builds virtual-hosted URLs
// against an endpoint host that the test maps to versitygw.
func TestVirtualHostedStyle(t *testing.T) {
	srv := testsrv.VersityGW(t)
	rt := &hostRecorder{}
	st, err := s3.New(s3.Config{
		Endpoint: "http://s3.test.invalid", Bucket: "vhost", Region: srv.Region,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, HTTPClient: rt.client(srv.Endpoint),
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = st.Put(t.Context(), "o/c/r/f", strings.NewReader(""), 0, "")
	if got := rt.first(); got != "vhost.s3.test.invalid" {
		t.Errorf("virtual-hosted request went to host %q, want vhost.s3.test.invalid", got)
	}
}

// TestSessionToken: temporary credentials (a Lambda role's, from
// AWS_SESSION_TOKEN) only work when the token travels with every request
// and is covered by the signature; AWS refuses the keys without it.
func TestSessionToken(t *testing.T) {
	srv := testsrv.VersityGW(t)
	var mu sync.Mutex
	var tokens, signed []string
	u, _ := url.Parse(srv.Endpoint)
	client := &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		mu.Lock()
		tokens = append(tokens, r.Header.Get("X-Amz-Security-Token"))
		signed = append(signed, r.Header.Get("Authorization"))
		mu.Unlock()
		r2 := r.Clone(r.Context())
		r2.URL.Scheme, r2.URL.Host = u.Scheme, u.Host
		return http.DefaultTransport.RoundTrip(r2)
	})}
	st, err := s3.New(s3.Config{
		Endpoint: srv.Endpoint, Bucket: fmt.Sprintf("bucket-%d", bucketSeq.Add(1)), Region: srv.Region,
		AccessKey: srv.AccessKey, SecretKey: srv.SecretKey, SessionToken: "role-session-token",
		ForcePathStyle: true, HTTPClient: client,
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = st.CreateBucket(t.Context())
	_ = st.Put(t.Context(), "o/c/r/f", strings.NewReader("x"), 1, "text/plain")
	mu.Lock()
	defer mu.Unlock()
	if len(tokens) == 0 {
		t.Fatal("no request was made")
	}
	for i := range tokens {
		if tokens[i] != "role-session-token" || !strings.Contains(signed[i], "x-amz-security-token") {
			t.Fatalf("request %d: token %q, authorization %q", i, tokens[i], signed[i])
		}
	}
}
