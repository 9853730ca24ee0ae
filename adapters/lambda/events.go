package lambdaadapter

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// convert turns a decoded HTTP event of the given kind into an event.
func convert(kind Kind, e *rawEvent) (*event, error) {
	switch kind {
	case KindHTTPAPI, KindFunctionURL:
		return fromV2(kind, e)
	case KindREST:
		return fromREST(e)
	case KindALB:
		return fromALB(e)
	}
	return nil, fmt.Errorf("%w: %s", ErrUnknownEvent, kind)
}

func body(s string, b64 bool) ([]byte, error) {
	if !b64 {
		return []byte(s), nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("base64 body: %w", err)
	}
	return b, nil
}

// fromV2 reads a payload 2.0 event (HTTP API, Function URL): the raw path
// and query as received, headers whose repeated values the gateway has
// already joined with commas, and cookies apart.
func fromV2(kind Kind, e *rawEvent) (*event, error) {
	b, err := body(e.Body, e.Base64)
	if err != nil {
		return nil, err
	}
	h := make(http.Header, len(e.Headers)+1)
	for k, v := range e.Headers {
		h[http.CanonicalHeaderKey(k)] = []string{v}
	}
	if len(e.Cookies) > 0 {
		h["Cookie"] = []string{strings.Join(e.Cookies, "; ")}
	}
	host := h.Get("Host")
	if host == "" {
		host = e.RequestContext.DomainName
	}
	rc := e.RequestContext.HTTP
	path := e.RawPath
	if path == "" {
		path = rc.Path
	}
	return &event{
		kind: kind, method: rc.Method, path: path, rawPath: true, query: e.RawQuery,
		header: h, host: host, body: b, sourceIP: rc.SourceIP,
		proto: rc.Protocol, requestID: e.RequestContext.RequestID,
	}, nil
}

// fromREST reads a payload 1.0 event (REST API, or HTTP API set to 1.0):
// a decoded path, decoded query values, and multi-value maps that keep
// repeats apart.
func fromREST(e *rawEvent) (*event, error) {
	b, err := body(e.Body, e.Base64)
	if err != nil {
		return nil, err
	}
	h := headers(e.MultiH, e.Headers)
	q := make(url.Values)
	if len(e.MultiQ) > 0 {
		for k, vs := range e.MultiQ {
			q[k] = append([]string(nil), vs...)
		}
	} else {
		for k, v := range e.Query {
			q.Set(k, v)
		}
	}
	host := h.Get("Host")
	if host == "" {
		host = e.RequestContext.DomainName
	}
	return &event{
		kind: KindREST, method: e.HTTPMethod, path: e.Path, query: q.Encode(),
		header: h, host: host, body: b, sourceIP: e.RequestContext.Identity.SourceIP,
		proto: e.RequestContext.Protocol, requestID: e.RequestContext.RequestID, multiValue: true,
	}, nil
}

// fromALB reads an ALB event. The ALB passes path and query as received
// (percent-encoded, not decoded); the client's address is the last entry
// of X-Forwarded-For, which the ALB appends.
func fromALB(e *rawEvent) (*event, error) {
	b, err := body(e.Body, e.Base64)
	if err != nil {
		return nil, err
	}
	h := headers(e.MultiH, e.Headers)
	var parts []string
	if len(e.MultiQ) > 0 {
		for _, k := range sortedKeys(e.MultiQ) {
			for _, v := range e.MultiQ[k] {
				parts = append(parts, pair(k, v))
			}
		}
	} else {
		for _, k := range sortedKeys(e.Query) {
			parts = append(parts, pair(k, e.Query[k]))
		}
	}
	var ip string
	if xff := h.Values("X-Forwarded-For"); len(xff) > 0 {
		last := xff[len(xff)-1]
		ip = strings.TrimSpace(last[strings.LastIndexByte(last, ',')+1:])
	}
	return &event{
		kind: KindALB, method: e.HTTPMethod, path: e.Path, rawPath: true, query: strings.Join(parts, "&"),
		header: h, host: h.Get("Host"), body: b, sourceIP: ip, proto: "HTTP/1.1",
		requestID: h.Get("X-Amzn-Trace-Id"), multiValue: len(e.MultiH) > 0,
	}, nil
}

func pair(k, v string) string {
	if v == "" {
		return k
	}
	return k + "=" + v
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// headers prefers the multi-value map, which keeps repeated headers apart.
func headers(multi map[string][]string, single map[string]string) http.Header {
	if len(multi) > 0 {
		h := make(http.Header, len(multi))
		for k, vs := range multi {
			ck := http.CanonicalHeaderKey(k)
			h[ck] = append(h[ck], vs...)
		}
		return h
	}
	h := make(http.Header, len(single))
	for k, v := range single {
		h[http.CanonicalHeaderKey(k)] = []string{v}
	}
	return h
}

// v2Response is the payload 2.0 (and Function URL) response. It has no
// multi-value headers: repeated values are joined with ", " (RFC 9110
// §5.3), except Set-Cookie, whose values travel one by one in cookies.
type v2Response struct {
	StatusCode      int               `json:"statusCode"`
	Headers         map[string]string `json:"headers,omitempty"`
	Cookies         []string          `json:"cookies,omitempty"`
	Body            string            `json:"body"`
	IsBase64Encoded bool              `json:"isBase64Encoded"`
}

// multiResponse is the payload 1.0 and ALB response: with multiValueHeaders
// every value, Set-Cookie included, stays apart.
type multiResponse struct {
	StatusCode        int                 `json:"statusCode"`
	StatusDescription string              `json:"statusDescription,omitempty"`
	Headers           map[string]string   `json:"headers,omitempty"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders,omitempty"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
}

// encode renders res as the response event ev's trigger expects.
func (ev *event) encode(res *response) ([]byte, error) {
	b, b64 := encodeBody(res)
	switch ev.kind {
	case KindHTTPAPI, KindFunctionURL:
		out := v2Response{StatusCode: res.status, Headers: make(map[string]string, len(res.header)), Body: b, IsBase64Encoded: b64}
		for k, vs := range res.header {
			if len(vs) == 0 {
				continue
			}
			if k == "Set-Cookie" {
				out.Cookies = append(out.Cookies, vs...)
				continue
			}
			out.Headers[strings.ToLower(k)] = strings.Join(vs, ", ")
		}
		return json.Marshal(out)
	default:
		out := multiResponse{StatusCode: res.status, Body: b, IsBase64Encoded: b64}
		if ev.kind == KindALB {
			out.StatusDescription = fmt.Sprintf("%d %s", res.status, http.StatusText(res.status))
		}
		if ev.multiValue {
			out.MultiValueHeaders = make(map[string][]string, len(res.header))
			for k, vs := range res.header {
				if len(vs) > 0 {
					out.MultiValueHeaders[k] = vs
				}
			}
			return json.Marshal(out)
		}
		// An ALB without multi-value headers takes one value per name:
		// repeated values are joined, except Set-Cookie, which cannot be
		// and keeps its first value (turn multi-value headers on).
		out.Headers = make(map[string]string, len(res.header))
		for k, vs := range res.header {
			if len(vs) == 0 {
				continue
			}
			if k == "Set-Cookie" {
				out.Headers[k] = vs[0]
				continue
			}
			out.Headers[k] = strings.Join(vs, ", ")
		}
		return json.Marshal(out)
	}
}
