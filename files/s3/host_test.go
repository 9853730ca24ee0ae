package s3_test

import (
	"net/http"
	"net/url"
	"sync"
)

// hostRecorder is an http.Client transport that records request hosts and
// forwards everything to a fixed origin.
type hostRecorder struct {
	mu    sync.Mutex
	hosts []string
}

func (h *hostRecorder) client(origin string) *http.Client {
	u, _ := url.Parse(origin)
	return &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		h.mu.Lock()
		h.hosts = append(h.hosts, r.URL.Host)
		h.mu.Unlock()
		r2 := r.Clone(r.Context())
		r2.URL.Scheme, r2.URL.Host = u.Scheme, u.Host
		return http.DefaultTransport.RoundTrip(r2)
	})}
}

func (h *hostRecorder) first() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.hosts) == 0 {
		return ""
	}
	return h.hosts[0]
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
