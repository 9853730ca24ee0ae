// Package lambdaadapter runs an http.Handler on AWS Lambda. One Adapter
// answers every HTTP trigger Lambda has — API Gateway HTTP APIs (payload
// 2.0), REST APIs (payload 1.0, also HTTP APIs configured for 1.0),
// Application Load Balancer target groups and Function URLs — telling them
// apart from the event itself, and routes EventBridge (scheduled) events
// to a Scheduler.
//
// The conversion keeps what the event formats can carry: repeated headers
// and query keys, every Set-Cookie as its own value (the cookies field of
// payload 2.0, multiValueHeaders of payload 1.0 and of ALBs with
// multi-value headers on), binary bodies base64-encoded both ways, the
// source IP as the request's RemoteAddr and the gateway's request id as
// X-Request-Id. Bodies over the Lambda payload limit (6 MB for a
// synchronous invocation, each way) are answered 413 in the PocketBase
// error envelope, and so is a response that would exceed it (or an ALB's
// 1 MB limit on what a Lambda target answers).
//
// An Adapter implements aws-lambda-go's lambda.Handler: pass it to
// lambda.Start (build with -tags lambda.norpc).
//
// # Why not aws-lambda-go-api-proxy
//
// The conversion is this package's own, in both directions, not
// aws-lambda-go-api-proxy's (v0.16.2). Its ALB response carries only
// multiValueHeaders, which an ALB without multi-value headers ignores (so
// every header is lost there), and its request accessors (package core),
// the part that could otherwise fit, get what Base depends on wrong. Module proxycompare (next to this file; `cd
// proxycompare && go test`) feeds them the recorded events of
// testdata/events and pins these differences:
//   - ALB: the percent-encoded query is escaped again, so a filter
//     arrives as "%28x%3D1%29" instead of "(x=1)"; and RemoteAddr stays
//     empty (no source IP).
//   - Payload 2.0: every header outside a short list is split on commas,
//     so If-Range "Wed, 21 Oct 2015 07:28:00 GMT" becomes "Wed" and
//     range requests for files restart at byte 0.
//   - Payload 1.0: the decoded path is pasted into a URL string, so a
//     path holding "%" fails the request and one holding "?" loses its
//     tail to the query.
//   - It prints plain-text lines to stdout on errors, breaking the JSON
//     log stream, and reads the environment on every request.
//
// Nor is it cheaper: converting an HTTP API request alone costs it 125
// allocations and about 23 µs of CPU, the adapter's whole Invoke (request
// and response, no-op handler) 107 allocations and about 20 µs
// (BenchmarkConvert, CPU time over 100,000 runs on a shared 2-core
// machine). Through the real handler, GET /v1/health costs about 22 µs of
// CPU more via the adapter than served directly (BenchmarkOverhead).
package lambdaadapter

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind names the trigger an event came from.
type Kind string

// The triggers an Adapter answers.
const (
	KindHTTPAPI     Kind = "apigw-http-v2" // API Gateway HTTP API, payload 2.0
	KindREST        Kind = "apigw-rest-v1" // API Gateway REST API (or HTTP API payload 1.0)
	KindALB         Kind = "alb"           // Application Load Balancer target group
	KindFunctionURL Kind = "function-url"  // Lambda Function URL
	KindScheduled   Kind = "eventbridge"   // EventBridge event, e.g. a schedule
)

// DefaultMaxPayload is Lambda's limit on a synchronous invocation's request
// and response payloads (6 MB).
const DefaultMaxPayload = 6 * 1024 * 1024

// ALBMaxPayload is an Application Load Balancer's limit on what a Lambda
// target may answer (1 MB of response JSON; requests over 1 MB the ALB
// refuses itself). Responses to ALB events are held to it whatever
// Config.MaxResponse says, so that the client gets the 413 envelope rather
// than the ALB's bare 502.
const ALBMaxPayload = 1 << 20

// ErrUnknownEvent is returned (wrapped) by Invoke and Detect for a payload
// that is neither an HTTP trigger event nor an EventBridge event.
var ErrUnknownEvent = errors.New("lambda adapter: unrecognized event")

// Scheduler runs the job an EventBridge event names. An error makes the
// invocation fail, so that EventBridge retries it.
type Scheduler interface {
	RunScheduled(ctx context.Context, ev ScheduledEvent) error
}

// ScheduledEvent is an EventBridge event as the Scheduler sees it. Job is
// the detail's "job" field when the rule's input sets one, else the name of
// the rule that fired (the last segment of its ARN).
type ScheduledEvent struct {
	ID         string          `json:"id"`
	Source     string          `json:"source"`
	DetailType string          `json:"detail-type"`
	Time       time.Time       `json:"time"`
	Region     string          `json:"region"`
	Resources  []string        `json:"resources"`
	Detail     json.RawMessage `json:"detail"`
	Job        string          `json:"-"`
}

// Config configures an Adapter. Handler is required.
type Config struct {
	Handler http.Handler
	Logger  *slog.Logger
	// Scheduler receives EventBridge events, usually a JobScheduler over
	// the deployment's jobs (nil: every scheduled event fails, so that
	// EventBridge retries it and its failure is seen).
	Scheduler Scheduler
	// MaxRequestBody bounds a request body after base64 decoding; a larger
	// one is answered 413 without calling Handler (default
	// DefaultMaxPayload).
	MaxRequestBody int
	// MaxResponse bounds the encoded response event; a larger response is
	// replaced by a 413 envelope naming the limit, as Lambda would
	// otherwise fail the invocation and the gateway answer a bare 502
	// (default DefaultMaxPayload).
	MaxResponse int
}

// Adapter converts Lambda events to http.Requests for a handler and the
// handler's responses back to events. It is safe for concurrent use.
type Adapter struct {
	h           http.Handler
	log         *slog.Logger
	sched       Scheduler
	maxRequest  int
	maxResponse int
}

// New returns an Adapter for cfg.
func New(cfg Config) (*Adapter, error) {
	if cfg.Handler == nil {
		return nil, errors.New("lambda adapter: Config.Handler is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Scheduler == nil {
		cfg.Scheduler = noScheduler{}
	}
	if cfg.MaxRequestBody <= 0 {
		cfg.MaxRequestBody = DefaultMaxPayload
	}
	if cfg.MaxResponse <= 0 {
		cfg.MaxResponse = DefaultMaxPayload
	}
	return &Adapter{h: cfg.Handler, log: cfg.Logger, sched: cfg.Scheduler, maxRequest: cfg.MaxRequestBody, maxResponse: cfg.MaxResponse}, nil
}

// rawEvent is the union of the trigger event shapes: one decoding tells
// the kind and yields every field the conversion needs.
type rawEvent struct {
	Version    string              `json:"version"`
	HTTPMethod string              `json:"httpMethod"` // payload 1.0, ALB
	Path       string              `json:"path"`       // payload 1.0, ALB
	RawPath    string              `json:"rawPath"`    // payload 2.0
	RawQuery   string              `json:"rawQueryString"`
	Cookies    []string            `json:"cookies"`
	Headers    map[string]string   `json:"headers"`
	MultiH     map[string][]string `json:"multiValueHeaders"`
	Query      map[string]string   `json:"queryStringParameters"`
	MultiQ     map[string][]string `json:"multiValueQueryStringParameters"`
	Body       string              `json:"body"`
	Base64     bool                `json:"isBase64Encoded"`

	Source     string `json:"source"`      // EventBridge
	DetailType string `json:"detail-type"` // EventBridge

	RequestContext struct {
		ELB        json.RawMessage `json:"elb"`
		DomainName string          `json:"domainName"`
		RequestID  string          `json:"requestId"`
		Protocol   string          `json:"protocol"` // payload 1.0
		HTTP       *struct {
			Method   string `json:"method"`
			Path     string `json:"path"`
			Protocol string `json:"protocol"`
			SourceIP string `json:"sourceIp"`
		} `json:"http"` // payload 2.0
		Identity struct {
			SourceIP string `json:"sourceIp"`
		} `json:"identity"` // payload 1.0
	} `json:"requestContext"`
}

// Detect tells which trigger payload comes from.
func Detect(payload []byte) (Kind, error) {
	var p rawEvent
	if err := json.Unmarshal(payload, &p); err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnknownEvent, err)
	}
	return p.kind()
}

func (p *rawEvent) kind() (Kind, error) {
	switch {
	case len(p.RequestContext.ELB) > 0:
		return KindALB, nil
	case p.Version == "2.0" && p.RequestContext.HTTP != nil:
		if strings.Contains(p.RequestContext.DomainName, ".lambda-url.") {
			return KindFunctionURL, nil
		}
		return KindHTTPAPI, nil
	case p.HTTPMethod != "":
		return KindREST, nil
	case p.Source != "" && p.DetailType != "":
		return KindScheduled, nil
	}
	return "", ErrUnknownEvent
}

// Invoke answers one Lambda invocation: it implements lambda.Handler.
// It fails only for a payload it does not recognize, a malformed event or
// a failed scheduled job; a handler error is an HTTP response like any
// other.
func (a *Adapter) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var p rawEvent
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnknownEvent, err)
	}
	kind, err := p.kind()
	if err != nil {
		return nil, err
	}
	if kind == KindScheduled {
		return a.scheduled(ctx, payload)
	}
	ev, err := convert(kind, &p)
	if err != nil {
		return nil, fmt.Errorf("lambda adapter: decode %s event: %w", kind, err)
	}
	res := a.serve(ctx, kind, ev)
	if n := len(res.header["Set-Cookie"]); n > 1 && kind == KindALB && !ev.multiValue {
		a.log.WarnContext(ctx, "ALB target group without multi-value headers: only the first Set-Cookie reaches the client; turn lambda.multi_value_headers.enabled on",
			"cookies", n, "path", ev.path, "requestId", ev.requestID)
	}
	out, err := ev.encode(res)
	if err != nil {
		return nil, fmt.Errorf("lambda adapter: encode %s response: %w", kind, err)
	}
	limit := a.maxResponse
	if kind == KindALB {
		limit = min(limit, ALBMaxPayload)
	}
	if len(out) > limit {
		a.log.ErrorContext(ctx, "response exceeds the Lambda payload limit", "kind", kind,
			"bytes", len(out), "limit", limit, "path", ev.path, "requestId", ev.requestID)
		out, err = ev.encode(envelope(http.StatusRequestEntityTooLarge, "The response is too large for AWS Lambda; request less (a smaller page, fewer fields)."))
		if err != nil {
			return nil, fmt.Errorf("lambda adapter: encode %s response: %w", kind, err)
		}
	}
	return out, nil
}

func (a *Adapter) scheduled(ctx context.Context, payload []byte) ([]byte, error) {
	var ev ScheduledEvent
	if err := json.Unmarshal(payload, &ev); err != nil {
		return nil, fmt.Errorf("lambda adapter: decode scheduled event: %w", err)
	}
	var d struct {
		Job string `json:"job"`
	}
	if len(ev.Detail) > 0 && json.Unmarshal(ev.Detail, &d) == nil && d.Job != "" {
		ev.Job = d.Job
	} else if len(ev.Resources) > 0 {
		r := ev.Resources[0]
		ev.Job = r[strings.LastIndexByte(r, '/')+1:]
	}
	if err := a.sched.RunScheduled(ctx, ev); err != nil {
		return nil, fmt.Errorf("lambda adapter: scheduled job %q: %w", ev.Job, err)
	}
	return []byte(`{"ok":true}`), nil
}

// serve runs the handler for one HTTP event.
func (a *Adapter) serve(ctx context.Context, kind Kind, ev *event) *response {
	if len(ev.body) > a.maxRequest {
		a.log.WarnContext(ctx, "request body exceeds the Lambda payload limit", "kind", kind,
			"bytes", len(ev.body), "limit", a.maxRequest, "path", ev.path, "requestId", ev.requestID)
		return envelope(http.StatusRequestEntityTooLarge, "Request entity too large.")
	}
	r, err := ev.request(ctx)
	if err != nil {
		a.log.WarnContext(ctx, "malformed request in event", "kind", kind, "err", err, "requestId", ev.requestID)
		return envelope(http.StatusBadRequest, "Something went wrong while processing your request.")
	}
	w := &response{header: make(http.Header)}
	a.h.ServeHTTP(w, r)
	w.finish()
	return w
}

// event is the trigger-independent form of an HTTP event.
type event struct {
	kind      Kind
	method    string
	path      string // decoded (REST) or raw (others), see rawPath
	rawPath   bool   // path is percent-encoded as received
	query     string // raw query string
	header    http.Header
	host      string
	body      []byte
	sourceIP  string
	proto     string
	requestID string
	// multiValue: the response must use multiValueHeaders (REST, and
	// ALBs with multi-value headers on).
	multiValue bool
}

// request builds the http.Request the handler sees.
func (ev *event) request(ctx context.Context) (*http.Request, error) {
	u := &url.URL{RawQuery: ev.query}
	if ev.rawPath {
		p, err := url.PathUnescape(ev.path)
		if err != nil {
			return nil, fmt.Errorf("path %q: %w", ev.path, err)
		}
		u.Path = p
		if p != ev.path {
			u.RawPath = ev.path
		}
	} else {
		u.Path = ev.path
	}
	if u.Path == "" {
		u.Path = "/"
	}
	method := ev.method
	if method == "" {
		method = http.MethodGet
	}
	r, err := http.NewRequestWithContext(ctx, method, "/", bytes.NewReader(ev.body))
	if err != nil {
		return nil, err
	}
	r.URL = u
	r.RequestURI = u.RequestURI()
	r.Header = ev.header
	r.Host = ev.host
	r.ContentLength = int64(len(ev.body))
	if len(ev.body) == 0 {
		r.Body = http.NoBody
	}
	if ev.proto != "" {
		if major, minor, ok := http.ParseHTTPVersion(ev.proto); ok {
			r.Proto, r.ProtoMajor, r.ProtoMinor = ev.proto, major, minor
		}
	}
	if ev.sourceIP != "" {
		r.RemoteAddr = net.JoinHostPort(ev.sourceIP, "0")
	}
	if ev.requestID != "" && r.Header.Get("X-Request-Id") == "" {
		r.Header.Set("X-Request-Id", ev.requestID)
	}
	return r, nil
}

// response is the buffered http.ResponseWriter handed to the handler.
type response struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(status int) {
	if w.status != 0 || status < 100 || status > 999 {
		return
	}
	if status < 200 { // informational: not representable, skip
		return
	}
	w.status = status
}

func (w *response) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.body.Write(p)
}

// ReadFrom lets io.Copy (http.ServeContent, file downloads) fill the buffer
// without an intermediate copy.
func (w *response) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.body.ReadFrom(r)
}

// finish applies what net/http's server would: the default status and a
// sniffed Content-Type.
func (w *response) finish() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if _, ok := w.header["Content-Type"]; !ok && w.body.Len() > 0 && w.header.Get("Content-Encoding") == "" {
		w.header.Set("Content-Type", http.DetectContentType(w.body.Bytes()))
	}
	if w.status == http.StatusNoContent || w.status == http.StatusNotModified {
		w.body.Reset()
	}
}

// envelope is a PocketBase error envelope response.
func envelope(status int, message string) *response {
	w := &response{header: make(http.Header), status: status}
	w.header.Set("Content-Type", "application/json")
	fmt.Fprintf(&w.body, `{"status":%d,"message":%q,"data":{}}`, status, message)
	return w
}

// encodeBody returns the body as the event wants it: plain text when it is
// textual UTF-8, else base64.
func encodeBody(w *response) (string, bool) {
	b := w.body.Bytes()
	if len(b) == 0 {
		return "", false
	}
	if textual(w.header) && utf8.Valid(b) {
		return string(b), false
	}
	return base64.StdEncoding.EncodeToString(b), true
}

// textual reports whether a response with header h may travel as text.
func textual(h http.Header) bool {
	if ce := h.Get("Content-Encoding"); ce != "" && ce != "identity" {
		return false
	}
	ct := strings.ToLower(h.Get("Content-Type"))
	if mt, _, ok := strings.Cut(ct, ";"); ok {
		ct = mt
	}
	ct = strings.TrimSpace(ct)
	switch {
	case strings.HasPrefix(ct, "text/"),
		strings.HasSuffix(ct, "json"), strings.HasSuffix(ct, "+xml"), ct == "application/xml",
		ct == "application/javascript", ct == "application/x-www-form-urlencoded",
		ct == "application/yaml", ct == "image/svg+xml":
		return true
	}
	return false
}
