package postgres

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ParseURL reads a Config from a postgres:// URL (BASE_STORE_URL). Base's
// own query parameters are removed before the URL reaches pgx:
//
//	base_max_conns=N          Config.MaxConns
//	base_max_idle_conns=N     Config.MaxIdleConns
//	base_conn_idle=DURATION   Config.ConnMaxIdleTime
//	base_schema_prefix=P      Config.SchemaPrefix
//	base_search_path=local|session  Config.SearchPath
//	base_statement_cache=on|off     Config.NoStatementCache (off: true)
//
// base_statement_cache=off keeps every statement unnamed; use it behind
// RDS Proxy, which pins a client connection to its server connection once
// it sees a named prepared statement. The default, on, prepares hot reads
// (and stops by itself behind a pooler that loses them). Every other
// parameter is pgx's (sslmode, default_query_exec_mode, ...); choosing
// default_query_exec_mode also turns the statement cache off.
func ParseURL(s string) (Config, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return Config{}, fmt.Errorf("postgres store: want a postgres:// URL, got %q", redact(s))
	}
	var cfg Config
	q := u.Query()
	for k, vs := range q {
		if !strings.HasPrefix(k, "base_") {
			continue
		}
		v := vs[0]
		switch k {
		case "base_max_conns", "base_max_idle_conns":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return Config{}, fmt.Errorf("postgres store: %s=%q: want a positive integer", k, v)
			}
			if k == "base_max_conns" {
				cfg.MaxConns = n
			} else {
				cfg.MaxIdleConns = n
			}
		case "base_conn_idle":
			d, err := time.ParseDuration(v)
			if err != nil {
				return Config{}, fmt.Errorf("postgres store: %s=%q: %w", k, v, err)
			}
			cfg.ConnMaxIdleTime = d
		case "base_schema_prefix":
			cfg.SchemaPrefix = v
		case "base_search_path":
			switch v {
			case "local":
				cfg.SearchPath = SearchPathLocal
			case "session":
				cfg.SearchPath = SearchPathSession
			default:
				return Config{}, fmt.Errorf("postgres store: base_search_path=%q: want local or session", v)
			}
		case "base_statement_cache":
			switch v {
			case "on":
				cfg.NoStatementCache = false
			case "off":
				cfg.NoStatementCache = true
			default:
				return Config{}, fmt.Errorf("postgres store: base_statement_cache=%q: want on or off", v)
			}
		default:
			return Config{}, fmt.Errorf("postgres store: unknown parameter %q", k)
		}
		q.Del(k)
	}
	u.RawQuery = q.Encode()
	cfg.URL = u.String()
	return cfg, nil
}

// redact hides a URL's password.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
