package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/hanzoai/base"
)

// listResult is the paginated list envelope of PocketBase
// (GET .../records, GET /api/collections, ...). writeJSON applies the
// fields query parameter to each element of Items only.
type listResult struct {
	Page       int   `json:"page"`
	PerPage    int   `json:"perPage"`
	TotalItems int   `json:"totalItems"`
	TotalPages int   `json:"totalPages"`
	Items      []any `json:"items"`
}

// jsonBuffer is a reusable encode buffer with its encoder bound to it.
type jsonBuffer struct {
	buf bytes.Buffer
	enc *json.Encoder
}

// maxPooledBuffer keeps one huge response from pinning its buffer forever.
const maxPooledBuffer = 1 << 20

var jsonBuffers = sync.Pool{New: func() any {
	b := &jsonBuffer{}
	b.enc = json.NewEncoder(&b.buf)
	b.enc.SetEscapeHTML(false)
	return b
}}

// encodeJSON encodes v into a pooled buffer. The caller must call
// releaseJSON when done with the bytes.
func encodeJSON(v any) (*jsonBuffer, error) {
	b := jsonBuffers.Get().(*jsonBuffer)
	b.buf.Reset()
	if err := b.enc.Encode(v); err != nil {
		releaseJSON(b)
		return nil, err
	}
	return b, nil
}

func releaseJSON(b *jsonBuffer) {
	if b.buf.Cap() <= maxPooledBuffer {
		jsonBuffers.Put(b)
	}
}

// writeJSON writes v as JSON with the given status. For 2xx responses the
// request's fields query parameter (§1.5) is applied first: to each item of
// a listResult, directly to maps and slices of maps, and to other values
// (structs) after a marshal/decode round trip. v itself is never modified.
// The body is encoded completely before anything is written, so an
// unencodable value becomes a clean 500 envelope rather than half a body.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	if status >= 200 && status < 300 {
		if fields := fieldsParam(r); fields != "" {
			v = applyFields(v, parseFields(fields))
		}
	}
	if lr, ok := v.(listResult); ok && lr.Items == nil {
		lr.Items = []any{}
		v = lr
	} else if lp, ok := v.(*listResult); ok && lp != nil && lp.Items == nil {
		lr := *lp
		lr.Items = []any{}
		v = lr
	}
	b, err := encodeJSON(v)
	if err != nil {
		// Only reachable through a programming error (a channel, a func,
		// a cyclic value, a failing MarshalJSON): no logger here, the
		// message says what failed without exposing the value.
		writeErrorBody(w, base.AsError(err))
		return
	}
	defer releaseJSON(b)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(b.buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.buf.Bytes())
}

// fieldsParam returns the fields query parameter without parsing the whole
// query string when it plainly cannot be there.
func fieldsParam(r *http.Request) string {
	if r == nil || r.URL == nil || r.URL.RawQuery == "" {
		return ""
	}
	raw := r.URL.RawQuery
	if !strings.Contains(raw, "fields") && !strings.Contains(raw, "%") {
		return ""
	}
	return r.URL.Query().Get("fields")
}

// applyFields picks fs from v according to the rules of writeJSON.
func applyFields(v any, fs *fieldSet) any {
	if fs.empty() {
		return v
	}
	switch t := v.(type) {
	case listResult:
		return pickList(t, fs)
	case *listResult:
		if t == nil {
			return v
		}
		return pickList(*t, fs)
	case map[string]any, []any, []map[string]any:
		return fs.pick(t)
	case nil, string, bool, json.Number, float64, int, int64:
		return v
	}
	generic, err := toGeneric(v)
	if err != nil {
		return v // the encoder will report the same error
	}
	return fs.pick(generic)
}

func pickList(lr listResult, fs *fieldSet) listResult {
	items := make([]any, len(lr.Items))
	for i, it := range lr.Items {
		switch it.(type) {
		case map[string]any, []any, []map[string]any:
			items[i] = fs.pick(it)
		default:
			g, err := toGeneric(it)
			if err != nil {
				items[i] = it
				continue
			}
			items[i] = fs.pick(g)
		}
	}
	lr.Items = items
	return lr
}

// toGeneric turns any JSON-marshalable value into generic JSON values
// (maps, slices, json.Number, ...), invoking its MarshalJSON if any.
func toGeneric(v any) (any, error) {
	b, err := encodeJSON(v)
	if err != nil {
		return nil, err
	}
	defer releaseJSON(b)
	dec := json.NewDecoder(bytes.NewReader(b.buf.Bytes()))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

// writeNoContent answers 204 with no body, the success response for
// operations the SDK resolves to true (delete, realtime subscribe, ...).
func writeNoContent(w http.ResponseWriter) {
	w.WriteHeader(http.StatusNoContent)
}

// errorEnvelope is the PocketBase error body.
type errorEnvelope struct {
	Status  int            `json:"status"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

// writeError maps err to the PocketBase error envelope
// {"status","message","data"} (§1.3) via base.AsError. Data is always an
// object whose leaves are {"code","message"[,"params"]}; raw errors found in
// it become validation_invalid_value leaves. 5xx responses never carry the
// cause or any data: the cause is logged at error level with the request
// method and path. A nil logger means slog.Default().
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	e := base.AsError(err)
	env := envelopeOf(e)
	if env.Status >= 500 {
		if logger == nil {
			logger = slog.Default()
		}
		ctx := context.Background()
		attrs := make([]slog.Attr, 0, 6)
		attrs = append(attrs, slog.Int("status", env.Status))
		if r != nil {
			ctx = r.Context()
			attrs = append(attrs, slog.String("method", r.Method), slog.String("path", r.URL.Path))
			if id := requestID(ctx); id != "" {
				attrs = append(attrs, slog.String("requestId", id))
			}
		}
		attrs = append(attrs, slog.Any("error", err))
		if len(e.Data) > 0 {
			attrs = append(attrs, slog.Any("data", e.Data))
		}
		logger.LogAttrs(ctx, slog.LevelError, "request failed", attrs...)
	}
	writeEnvelope(w, env)
}

// writeErrorBody writes the envelope of e without logging; it never fails.
func writeErrorBody(w http.ResponseWriter, e *base.Error) {
	writeEnvelope(w, envelopeOf(e))
}

func writeEnvelope(w http.ResponseWriter, env errorEnvelope) {
	b, err := encodeJSON(env)
	if err != nil {
		// Data held something unencodable (a FieldError param): drop it.
		env.Data = map[string]any{}
		b, _ = encodeJSON(env)
	}
	defer releaseJSON(b)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(b.buf.Len()))
	h.Del("Content-Disposition")
	w.WriteHeader(env.Status)
	_, _ = w.Write(b.buf.Bytes())
}

// envelopeOf renders e as its client-facing envelope.
func envelopeOf(e *base.Error) errorEnvelope {
	status := e.Status
	if status < 400 || status > 599 {
		status = http.StatusInternalServerError
	}
	msg := e.Message
	if msg == "" {
		msg = base.DefaultMessage(status)
	}
	env := errorEnvelope{Status: status, Message: base.Sentenize(msg)}
	if status >= 500 {
		env.Data = map[string]any{}
		return env
	}
	env.Data = normalizeData(e.Data)
	return env
}

// normalizeData copies an error data map into JSON-safe form.
func normalizeData(data map[string]any) map[string]any {
	out := make(map[string]any, len(data))
	for k, v := range data {
		out[k] = normalizeValue(v)
	}
	return out
}

func normalizeValue(v any) any {
	switch t := v.(type) {
	case nil, string, bool, float64, float32, int, int64, int32, uint, uint64, uint32, json.Number:
		return t
	case *base.FieldError:
		if t == nil {
			return nil
		}
		return fieldErrorJSON(t)
	case base.FieldError:
		return fieldErrorJSON(&t)
	case *base.Error:
		if t == nil {
			return nil
		}
		return envelopeOf(t)
	case map[string]any:
		return normalizeData(t)
	case map[string]*base.FieldError:
		out := make(map[string]any, len(t))
		for k, fe := range t {
			out[k] = normalizeValue(fe)
		}
		return out
	case map[string]error:
		out := make(map[string]any, len(t))
		for k, fe := range t {
			out[k] = normalizeValue(fe)
		}
		return out
	case map[string]string:
		return t
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = normalizeValue(x)
		}
		return out
	case error:
		var fe *base.FieldError
		if errors.As(t, &fe) {
			return fieldErrorJSON(fe)
		}
		var be *base.Error
		if errors.As(t, &be) {
			return envelopeOf(be)
		}
		// Raw errors are never exposed.
		return fieldErrorJSON(base.ErrInvalidValue)
	default:
		return t
	}
}

func fieldErrorJSON(fe *base.FieldError) map[string]any {
	m := map[string]any{"code": fe.Code, "message": base.Sentenize(fe.Message)}
	if len(fe.Params) > 0 {
		m["params"] = fe.Params
	}
	return m
}
