package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// WellKnownPath is the OpenID Connect discovery path, relative to an issuer.
const WellKnownPath = "/.well-known/openid-configuration"

// maxDiscoveryBytes bounds a discovery document.
const maxDiscoveryBytes = 1 << 20

// Discovery is the part of an OpenID Connect discovery document Base uses.
type Discovery struct {
	Issuer                string `json:"issuer"`
	JWKSURI               string `json:"jwks_uri"`
	AuthorizationEndpoint string `json:"authorization_endpoint"`
	TokenEndpoint         string `json:"token_endpoint"`
	UserinfoEndpoint      string `json:"userinfo_endpoint,omitempty"`
	EndSessionEndpoint    string `json:"end_session_endpoint,omitempty"`
}

// Discover fetches the discovery document of the IAM at endpoint — an origin
// such as "https://iam.example.com" (WellKnownPath is appended) or the full
// URL of the document — with client (nil means http.DefaultClient).
//
// It fails unless the answer is a 200 JSON document whose issuer and jwks_uri
// are absolute http(s) URLs. It does not require issuer to equal endpoint:
// the issuer it returns is what tokens must carry.
func Discover(ctx context.Context, client *http.Client, endpoint string) (Discovery, error) {
	if client == nil {
		client = http.DefaultClient
	}
	u := strings.TrimRight(endpoint, "/")
	if !strings.HasSuffix(u, WellKnownPath) {
		u += WellKnownPath
	}
	if err := checkURL(u); err != nil {
		return Discovery{}, fmt.Errorf("discover %q: %w", endpoint, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Discovery{}, fmt.Errorf("discover %q: %w", endpoint, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return Discovery{}, fmt.Errorf("discover %q: %w", endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Discovery{}, fmt.Errorf("discover %q: %s answered status %d", endpoint, u, resp.StatusCode)
	}
	var d Discovery
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxDiscoveryBytes)).Decode(&d); err != nil {
		return Discovery{}, fmt.Errorf("discover %q: decode %s: %w", endpoint, u, err)
	}
	if err := checkURL(d.Issuer); err != nil {
		return Discovery{}, fmt.Errorf("discover %q: issuer: %w", endpoint, err)
	}
	if err := checkURL(d.JWKSURI); err != nil {
		return Discovery{}, fmt.Errorf("discover %q: jwks_uri: %w", endpoint, err)
	}
	return d, nil
}

// checkURL reports whether s is an absolute http or https URL with a host.
func checkURL(s string) error {
	if s == "" {
		return errors.New("missing URL")
	}
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return nil
}
