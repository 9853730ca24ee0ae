package libsql

import (
	"fmt"
	"net/url"
	"strings"
)

// ParseURL reads a Config from BASE_STORE_URL: the URL template with
// {org} (kept literally; it may sit in the host) and Base's own query
// parameters, removed before the URL reaches the client:
//
//	admin=URL          Config.AdminURL (sqld admin API)
//	admin_token=KEY    Config.AdminToken
//	proxy=URL          Config.Proxy
//	auth_token=TOKEN   Config.AuthToken
//
// tls=0 stays (libsql://host:port?tls=0 is plain HTTP).
func ParseURL(s string) (Config, error) {
	if !strings.Contains(s, "{org}") {
		return Config{}, fmt.Errorf("libsql store: BASE_STORE_URL must contain {org}, e.g. libsql://{org}-team.turso.io")
	}
	base, query, _ := strings.Cut(s, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return Config{}, fmt.Errorf("libsql store: %w", err)
	}
	var cfg Config
	for k, p := range map[string]*string{"admin": &cfg.AdminURL, "admin_token": &cfg.AdminToken, "proxy": &cfg.Proxy, "auth_token": &cfg.AuthToken} {
		if q.Has(k) {
			*p = q.Get(k)
			q.Del(k)
		}
	}
	cfg.URL = base
	if len(q) > 0 {
		cfg.URL += "?" + q.Encode()
	}
	return cfg, nil
}
