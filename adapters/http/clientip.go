package httpadapter

import (
	"net"
	"net/http"
	"strings"
)

// ClientIP makes r.RemoteAddr the client's address when Base runs behind
// hops trusted reverse proxies (Cloud Run's front end, a load balancer,
// nginx), so request logs and the IAM's per-IP login throttling see the
// client rather than the proxy. Each trusted proxy appends the address it
// received the request from to X-Forwarded-For, so the client is the
// hops-th entry from the right; anything left of it was written by the
// client and is never trusted. With fewer entries than hops (the request
// did not come through the proxies), or hops <= 0, RemoteAddr is kept.
func ClientIP(hops int, next http.Handler) http.Handler {
	if hops <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ip, ok := forwardedClient(r.Header.Values("X-Forwarded-For"), hops); ok {
			_, port, err := net.SplitHostPort(r.RemoteAddr)
			if err != nil {
				port = "0"
			}
			r2 := new(http.Request)
			*r2 = *r
			r2.RemoteAddr = net.JoinHostPort(ip, port)
			r = r2
		}
		next.ServeHTTP(w, r)
	})
}

// forwardedClient is the hops-th address from the right of the
// X-Forwarded-For values, if there are that many and it is an IP.
func forwardedClient(values []string, hops int) (string, bool) {
	var list []string
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			list = append(list, strings.TrimSpace(p))
		}
	}
	if len(list) < hops {
		return "", false
	}
	ip := net.ParseIP(list[len(list)-hops])
	if ip == nil {
		return "", false
	}
	return ip.String(), true
}
