package httpadapter_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	httpadapter "github.com/hanzoai/base/adapters/http"
)

// serve runs Serve in the background and returns the bound address, a
// cancel func and a channel with Serve's result.
func serve(t *testing.T, cfg httpadapter.Config) (addr string, stop func(), done <-chan error) {
	t.Helper()
	cfg.Addr = "127.0.0.1:0"
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() { errc <- httpadapter.Serve(ctx, cfg, func(a net.Addr) { ready <- a }) }()
	select {
	case a := <-ready:
		t.Cleanup(cancel)
		return a.String(), cancel, errc
	case err := <-errc:
		t.Fatalf("Serve: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not become ready")
	}
	return "", nil, nil
}

// TestGracefulShutdown cancels the context while a slow request is in
// flight: the request completes, OnShutdown runs, new connections are
// refused and Serve returns nil.
func TestGracefulShutdown(t *testing.T) {
	started := make(chan struct{})
	var shutdownHook atomic.Bool
	addr, stop, done := serve(t, httpadapter.Config{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			time.Sleep(300 * time.Millisecond)
			io.WriteString(w, "finished")
		}),
		OnShutdown: func() { shutdownHook.Store(true) },
	})
	type result struct {
		body string
		err  error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/slow")
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		res <- result{body: string(b)}
	}()
	<-started
	stop()
	r := <-res
	if r.err != nil || r.body != "finished" {
		t.Fatalf("in-flight request: %q, %v; want it to finish", r.body, r.err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v, want nil after a graceful shutdown", err)
	}
	if !shutdownHook.Load() {
		t.Error("OnShutdown was not called")
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("new connections are still accepted after shutdown")
	}
}

// TestReadHeaderTimeout opens a connection that never finishes its
// headers: the server closes it after ReadHeaderTimeout.
func TestReadHeaderTimeout(t *testing.T) {
	addr, _, _ := serve(t, httpadapter.Config{
		Handler:           http.NotFoundHandler(),
		ReadHeaderTimeout: 200 * time.Millisecond,
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n") // no blank line: headers never end
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	start := time.Now()
	_, err = io.ReadAll(c)
	if err != nil {
		t.Fatalf("connection not closed by the server: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("closed after %v, want about the 200 ms header timeout", d)
	}
}

// TestIdleTimeout: a kept-alive connection with no request in flight is
// closed by the server after IdleTimeout, one with traffic is not.
func TestIdleTimeout(t *testing.T) {
	addr, _, _ := serve(t, httpadapter.Config{
		Handler:     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }),
		IdleTimeout: 300 * time.Millisecond,
	})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	get := func() error {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return err
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			return err
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return err
	}
	// Requests 150 ms apart keep the connection: each one resets the clock.
	for i := range 4 {
		if err := get(); err != nil {
			t.Fatalf("request %d on a connection in use: %v", i, err)
		}
		time.Sleep(150 * time.Millisecond)
	}
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if n, err := br.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("idle connection: read %d bytes, %v; want EOF from the server", n, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("closed after %v idle, want about 300 ms", d)
	}
}

// TestShutdownTimeout: a request still running when ShutdownTimeout ends
// has its connection closed, and Serve reports it instead of hanging.
func TestShutdownTimeout(t *testing.T) {
	started := make(chan struct{})
	release := make(chan struct{})
	defer close(release)
	addr, stop, done := serve(t, httpadapter.Config{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(started)
			<-release
		}),
		ShutdownTimeout: 300 * time.Millisecond,
	})
	res := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + addr + "/stuck")
		if err == nil {
			resp.Body.Close()
		}
		res <- err
	}()
	<-started
	begin := time.Now()
	stop()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Serve = %v, want a shutdown deadline error", err)
		}
		if d := time.Since(begin); d < 250*time.Millisecond || d > 3*time.Second {
			t.Errorf("Serve returned after %v, want about the 300 ms timeout", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve still waiting 5 s after a 300 ms shutdown timeout")
	}
	if err := <-res; err == nil {
		t.Error("the stuck request got a response; its connection should have been closed")
	}
}

// TestTLSConfigErrors: half a TLS configuration, or a pair that does not
// load, fails Serve before it listens rather than serving plain HTTP.
func TestTLSConfigErrors(t *testing.T) {
	certFile, keyFile := selfSigned(t)
	for _, tc := range []struct{ name, cert, key string }{
		{"cert only", certFile, ""},
		{"key only", "", keyFile},
		{"missing file", certFile, filepath.Join(t.TempDir(), "nope.pem")},
		{"swapped", keyFile, certFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			listened := false
			err := httpadapter.Serve(context.Background(), httpadapter.Config{
				Addr: "127.0.0.1:0", Handler: http.NotFoundHandler(), TLSCertFile: tc.cert, TLSKeyFile: tc.key,
			}, func(net.Addr) { listened = true })
			if err == nil || listened {
				t.Errorf("Serve = %v (listened %v), want an error before listening", err, listened)
			}
		})
	}
}

// TestTLS serves HTTPS with a certificate and key from files.
func TestTLS(t *testing.T) {
	certFile, keyFile := selfSigned(t)
	addr, _, _ := serve(t, httpadapter.Config{
		Handler:     http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) }),
		TLSCertFile: certFile, TLSKeyFile: keyFile,
	})
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.TLS == nil || resp.StatusCode != 200 {
		t.Fatalf("HTTPS: status %d, TLS %v", resp.StatusCode, resp.TLS != nil)
	}
	// Plain HTTP to the TLS port is refused (net/http answers 400), never served.
	plain, err := http.Get("http://" + addr + "/")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode != http.StatusBadRequest {
			t.Errorf("plain HTTP to the TLS port: %d, want 400", plain.StatusCode)
		}
	}
}

// TestH2C serves cleartext HTTP/2 to a client that speaks it, and
// HTTP/1.1 to one that does not.
func TestH2C(t *testing.T) {
	addr, _, _ := serve(t, httpadapter.Config{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) }),
		H2C:     true,
	})
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	h2 := &http.Client{Transport: &http.Transport{Protocols: p}}
	for _, tc := range []struct {
		client *http.Client
		want   string
	}{{h2, "HTTP/2.0"}, {http.DefaultClient, "HTTP/1.1"}} {
		resp, err := tc.client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != tc.want {
			t.Errorf("protocol = %q, want %q", b, tc.want)
		}
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}
