package httpadapter_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	httpadapter "github.com/hanzoai/base/adapters/http"
)

func TestClientIP(t *testing.T) {
	for _, tc := range []struct {
		name string
		hops int
		xff  []string
		want string
	}{
		{"no proxies configured: the header is ignored", 0, []string{"203.0.113.9"}, "10.0.0.1:5000"},
		{"one proxy: its appended entry", 1, []string{"203.0.113.9"}, "203.0.113.9:5000"},
		{"one proxy: a client-written entry is not trusted", 1, []string{"198.51.100.7, 203.0.113.9"}, "203.0.113.9:5000"},
		{"two proxies", 2, []string{"198.51.100.7, 203.0.113.9, 10.1.2.3"}, "203.0.113.9:5000"},
		{"several header lines", 2, []string{"198.51.100.7", "203.0.113.9, 10.1.2.3"}, "203.0.113.9:5000"},
		{"fewer entries than proxies: not through them", 2, []string{"203.0.113.9"}, "10.0.0.1:5000"},
		{"not an address", 1, []string{"bogus"}, "10.0.0.1:5000"},
		{"IPv6", 1, []string{"2001:db8::1"}, "[2001:db8::1]:5000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			h := httpadapter.ClientIP(tc.hops, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = r.RemoteAddr }))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = "10.0.0.1:5000"
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tc.want {
				t.Errorf("RemoteAddr = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestServeTrustedProxyHops: Serve applies ClientIP, so what the handler
// (and its logs, and the IAM's throttling) sees is the client behind the
// proxy, over a real connection.
func TestServeTrustedProxyHops(t *testing.T) {
	seen := make(chan string, 1)
	addr, _, _ := serve(t, httpadapter.Config{TrustedProxyHops: 1,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen <- r.RemoteAddr })})
	req, _ := http.NewRequest("GET", "http://"+addr+"/", nil)
	req.Header.Set("X-Forwarded-For", "198.51.100.7, 203.0.113.9")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if got := <-seen; !strings.HasPrefix(got, "203.0.113.9:") {
		t.Fatalf("handler saw RemoteAddr %q, want the proxy-appended client 203.0.113.9", got)
	}
}
