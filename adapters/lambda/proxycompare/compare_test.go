// Package proxycompare checks whether aws-lambda-go-api-proxy's request
// accessors (package core) could replace the request conversion of
// adapters/lambda. It is a module of its own so that Base does not depend
// on the proxy: run it with `cd adapters/lambda/proxycompare && go test`.
//
// Each test feeds the same recorded event (../testdata/events) to the
// proxy and to the adapter and compares the http.Request a handler would
// see. The assertions pin the proxy's behaviour at v0.16.2: if one starts
// failing, the proxy changed and the decision recorded in the adapter's
// package doc deserves another look.
package proxycompare

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/awslabs/aws-lambda-go-api-proxy/core"

	lambdaadapter "github.com/hanzoai/base/adapters/lambda"
)

func event(tb testing.TB, name string, edit func(map[string]any)) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "events", name))
	if err != nil {
		tb.Fatal(err)
	}
	if edit == nil {
		return b
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	edit(m)
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// ours is the request the adapter hands its handler for payload.
func ours(tb testing.TB, payload []byte) *http.Request {
	tb.Helper()
	var seen *http.Request
	a, err := lambdaadapter.New(lambdaadapter.Config{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r })})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := a.Invoke(context.Background(), payload); err != nil {
		tb.Fatal(err)
	}
	return seen
}

// theirs is the request the proxy's accessor for kind builds, or its error.
func theirs(tb testing.TB, kind lambdaadapter.Kind, payload []byte) (*http.Request, error) {
	tb.Helper()
	switch kind {
	case lambdaadapter.KindHTTPAPI, lambdaadapter.KindFunctionURL:
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			tb.Fatal(err)
		}
		return (&core.RequestAccessorV2{}).EventToRequest(ev)
	case lambdaadapter.KindREST:
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			tb.Fatal(err)
		}
		return (&core.RequestAccessor{}).EventToRequest(ev)
	case lambdaadapter.KindALB:
		var ev events.ALBTargetGroupRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			tb.Fatal(err)
		}
		return (&core.RequestAccessorALB{}).EventToRequest(ev)
	}
	tb.Fatalf("no accessor for %s", kind)
	return nil, nil
}

func both(tb testing.TB, payload []byte) (*http.Request, *http.Request, error) {
	tb.Helper()
	kind, err := lambdaadapter.Detect(payload)
	if err != nil {
		tb.Fatal(err)
	}
	p, perr := theirs(tb, kind, payload)
	return ours(tb, payload), p, perr
}

// TestALBQueryDoubleEncoded: an ALB passes the query string as the client
// sent it, percent-encoded; the proxy escapes it again, so a PocketBase
// filter reaches the handler still encoded.
func TestALBQueryDoubleEncoded(t *testing.T) {
	o, p, err := both(t, event(t, "alb-multivalue.json", nil))
	if err != nil {
		t.Fatal(err)
	}
	if got := o.URL.Query().Get("q"); got != "(x=1)" {
		t.Errorf("adapter: q = %q", got)
	}
	if got := p.URL.Query().Get("q"); got != "%28x%3D1%29" {
		t.Errorf("proxy: q = %q (was double-encoded at v0.16.2)", got)
	}
}

// TestALBNoSourceIP: the proxy leaves RemoteAddr empty for ALB events; the
// adapter takes the client from the X-Forwarded-For the ALB appends.
func TestALBNoSourceIP(t *testing.T) {
	o, p, err := both(t, event(t, "alb-multivalue.json", nil))
	if err != nil {
		t.Fatal(err)
	}
	if o.RemoteAddr != "72.12.164.125:0" || p.RemoteAddr != "" {
		t.Errorf("RemoteAddr adapter %q, proxy %q", o.RemoteAddr, p.RemoteAddr)
	}
}

// TestV2SplitsHeadersOnCommas: for payload 2.0 the proxy splits every
// header outside a short list on commas, so a date-valued If-Range
// becomes "Wed" — and http.ServeContent then ignores the client's Range
// (file downloads restart from byte 0).
func TestV2SplitsHeadersOnCommas(t *testing.T) {
	payload := event(t, "httpapi-v2-get.json", func(m map[string]any) {
		m["headers"].(map[string]any)["if-range"] = "Wed, 21 Oct 2015 07:28:00 GMT"
		m["headers"].(map[string]any)["x-json"] = `{"a":1,"b":2}`
	})
	o, p, err := both(t, payload)
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Header.Get("If-Range"); got != "Wed, 21 Oct 2015 07:28:00 GMT" {
		t.Errorf("adapter: If-Range %q", got)
	}
	if got := p.Header.Values("If-Range"); len(got) != 2 || got[0] != "Wed" {
		t.Errorf("proxy: If-Range %q (was split at v0.16.2)", got)
	}
	if got := p.Header.Get("X-Json"); got != `{"a":1` {
		t.Errorf("proxy: X-Json %q", got)
	}
}

// TestRESTDecodedPath: payload 1.0 carries the path decoded; the proxy
// pastes it into a URL string and parses that, so a path holding "%" fails
// the request and one holding "?" loses its tail to the query.
func TestRESTDecodedPath(t *testing.T) {
	for _, tc := range []struct{ path, proxyPath string }{
		{"/files/100%", ""}, // proxy: invalid URL escape
		{"/echo/what?", "/echo/what"},
	} {
		payload := event(t, "rest-v1-get.json", func(m map[string]any) { m["path"] = tc.path })
		o, p, err := both(t, payload)
		if o.URL.Path != tc.path {
			t.Errorf("adapter: path %q, want %q", o.URL.Path, tc.path)
		}
		switch {
		case tc.proxyPath == "" && err == nil:
			t.Errorf("proxy accepted %q (failed at v0.16.2)", tc.path)
		case tc.proxyPath != "" && (err != nil || p.URL.Path != tc.proxyPath):
			t.Errorf("proxy: path %v, %v; want %q", p, err, tc.proxyPath)
		}
	}
}

// TestSameWhereBothWork: on the plain recorded events the two agree on
// what matters to the handler, so the differences above are the whole
// story.
func TestSameWhereBothWork(t *testing.T) {
	for _, name := range []string{"httpapi-v2-get.json", "function-url-get.json", "rest-v1-get.json", "httpapi-v2-upload-binary.json"} {
		o, p, err := both(t, event(t, name, nil))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if o.Method != p.Method || o.URL.Path != p.URL.Path || o.URL.Query().Encode() != p.URL.Query().Encode() {
			t.Errorf("%s: adapter %s %s?%s, proxy %s %s?%s", name, o.Method, o.URL.Path, o.URL.RawQuery, p.Method, p.URL.Path, p.URL.RawQuery)
		}
		if oh, _, _ := net.SplitHostPort(o.RemoteAddr); oh != p.RemoteAddr {
			t.Errorf("%s: RemoteAddr adapter %q, proxy %q", name, o.RemoteAddr, p.RemoteAddr)
		}
	}
}

// BenchmarkConvert measures request conversion alone: the proxy's
// accessor (after the json.Unmarshal it needs) against the adapter's whole
// Invoke with a handler that does nothing (conversion both ways).
func BenchmarkConvert(b *testing.B) {
	payload := event(b, "httpapi-v2-get.json", nil)
	b.Run("proxy-request-only", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(payload, &ev); err != nil {
				b.Fatal(err)
			}
			if _, err := (&core.RequestAccessorV2{}).EventToRequest(ev); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("adapter-invoke", func(b *testing.B) {
		a, err := lambdaadapter.New(lambdaadapter.Config{Handler: http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := a.Invoke(context.Background(), payload); err != nil {
				b.Fatal(err)
			}
		}
	})
}
