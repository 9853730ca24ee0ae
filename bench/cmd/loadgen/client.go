package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// client is a thin HTTP client for the records and collections API.
type client struct {
	base  string // origin + prefix, e.g. http://127.0.0.1:8090/api
	token string
	hc    *http.Client
}

func newClient(cfg Config) *client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * cfg.Clients,
		MaxIdleConnsPerHost: 4 * cfg.Clients,
		IdleConnTimeout:     90 * time.Second,
		// No Accept-Encoding: measure the servers' plain JSON path, and keep
		// decompression off the cores the server shares with us.
		DisableCompression: true,
		ForceAttemptHTTP2:  false,
	}
	return &client{
		base:  cfg.URL + cfg.Prefix,
		token: cfg.Token,
		hc:    &http.Client{Transport: tr, Timeout: cfg.Timeout},
	}
}

// response is a fully read HTTP response.
type response struct {
	Status int
	Body   []byte
}

// OK reports whether the status is 2xx.
func (r response) OK() bool { return r.Status >= 200 && r.Status < 300 }

// do sends one request. body, when not nil, is JSON-encoded unless it is
// already a []byte. The returned error is a transport error only; HTTP
// error statuses come back in response.Status.
func (c *client) do(ctx context.Context, method, path string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				return response{}, fmt.Errorf("encode body: %w", err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return response{}, fmt.Errorf("new request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{Status: resp.StatusCode}, fmt.Errorf("read body: %w", err)
	}
	return response{Status: resp.StatusCode, Body: b}, nil
}

// doJSON sends a request, requires a 2xx and decodes the body into out (if
// out is not nil).
func (c *client) doJSON(ctx context.Context, method, path string, body, out any) error {
	r, err := c.do(ctx, method, path, body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if !r.OK() {
		return &statusError{Method: method, Path: path, Status: r.Status, Body: truncate(r.Body, 500)}
	}
	if out != nil {
		if err := json.Unmarshal(r.Body, out); err != nil {
			return fmt.Errorf("%s %s: decode: %w", method, path, err)
		}
	}
	return nil
}

// statusError is a non-2xx answer to a setup request.
type statusError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.Path, e.Status, e.Body)
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}
