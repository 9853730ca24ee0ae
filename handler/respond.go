package handler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

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

// jsonBuffer is a reusable encode buffer. out holds the encoded value;
// fb and enc encode values appendJSON does not know (structs, time
// values, ...); keys holds one reusable key slice per map nesting level.
type jsonBuffer struct {
	out  []byte
	fb   bytes.Buffer
	enc  *json.Encoder
	keys [][]string
}

// maxPooledBuffer keeps one huge response from pinning its buffer forever.
const maxPooledBuffer = 1 << 20

// maxJSONDepth bounds nesting (and catches cyclic maps), as encoding/json
// does for pointers.
const maxJSONDepth = 1000

var jsonBuffers = sync.Pool{New: func() any {
	b := &jsonBuffer{}
	b.enc = json.NewEncoder(&b.fb)
	b.enc.SetEscapeHTML(false)
	return b
}}

// encodeJSON encodes v plus a trailing newline into a pooled buffer,
// byte-for-byte as a json.Encoder with SetEscapeHTML(false) would. The
// caller must call releaseJSON when done with b.out.
func encodeJSON(v any) (*jsonBuffer, error) {
	b := jsonBuffers.Get().(*jsonBuffer)
	out, err := b.appendValue(b.out[:0], v, 0)
	if err != nil {
		b.out = out[:0]
		releaseJSON(b)
		return nil, err
	}
	b.out = append(out, '\n')
	return b, nil
}

func releaseJSON(b *jsonBuffer) {
	if cap(b.out) <= maxPooledBuffer && b.fb.Cap() <= maxPooledBuffer {
		jsonBuffers.Put(b)
	}
}

// errJSONDepth reports a value nested too deeply (or cyclic).
var errJSONDepth = errors.New("json: value nested too deeply or cyclic")

// appendValue appends the JSON encoding of v to dst. Generic JSON values
// (the shape of records) are encoded directly, without reflection; anything
// else goes through encoding/json.
func (b *jsonBuffer) appendValue(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return dst, errJSONDepth
	}
	switch t := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendJSONString(dst, t), nil
	case bool:
		return strconv.AppendBool(dst, t), nil
	case float64:
		return appendJSONFloat(dst, t)
	case int:
		return strconv.AppendInt(dst, int64(t), 10), nil
	case int64:
		return strconv.AppendInt(dst, t, 10), nil
	case json.Number:
		if t == "" {
			return append(dst, '0'), nil
		}
		if !validJSONNumber(string(t)) {
			return dst, fmt.Errorf("json: invalid number literal %q", string(t))
		}
		return append(dst, t...), nil
	case map[string]any:
		if t == nil {
			return append(dst, "null"...), nil
		}
		return b.appendMap(dst, t, depth)
	case []any:
		if t == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, x := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = b.appendValue(dst, x, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []map[string]any:
		if t == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, x := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = b.appendValue(dst, x, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case []string:
		if t == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, x := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, x)
		}
		return append(dst, ']'), nil
	case listResult:
		return b.appendList(dst, &t, depth)
	case *listResult:
		if t == nil {
			return append(dst, "null"...), nil
		}
		return b.appendList(dst, t, depth)
	default:
		b.fb.Reset()
		if err := b.enc.Encode(v); err != nil {
			return dst, err
		}
		enc := b.fb.Bytes()
		return append(dst, enc[:len(enc)-1]...), nil // drop the newline
	}
}

func (b *jsonBuffer) appendList(dst []byte, lr *listResult, depth int) ([]byte, error) {
	dst = append(dst, `{"page":`...)
	dst = strconv.AppendInt(dst, int64(lr.Page), 10)
	dst = append(dst, `,"perPage":`...)
	dst = strconv.AppendInt(dst, int64(lr.PerPage), 10)
	dst = append(dst, `,"totalItems":`...)
	dst = strconv.AppendInt(dst, int64(lr.TotalItems), 10)
	dst = append(dst, `,"totalPages":`...)
	dst = strconv.AppendInt(dst, int64(lr.TotalPages), 10)
	dst = append(dst, `,"items":`...)
	items := lr.Items
	if items == nil {
		items = []any{}
	}
	dst, err := b.appendValue(dst, items, depth+1)
	if err != nil {
		return dst, err
	}
	return append(dst, '}'), nil
}

func (b *jsonBuffer) appendMap(dst []byte, m map[string]any, depth int) ([]byte, error) {
	for len(b.keys) <= depth {
		b.keys = append(b.keys, nil)
	}
	keys := b.keys[depth][:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b.keys[depth] = keys
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONString(dst, k)
		dst = append(dst, ':')
		var err error
		if dst, err = b.appendValue(dst, m[k], depth+1); err != nil {
			clear(keys)
			return dst, err
		}
	}
	clear(keys) // do not pin the keys in the pool
	return append(dst, '}'), nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string exactly as encoding/json does
// without HTML escaping: short escapes for \\ " \b \f \n \r \t, \u00XX for
// other controls, \ufffd for invalid UTF-8, \u2028 and \u2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendJSONFloat formats f as encoding/json does (ES6 number formatting).
func appendJSONFloat(dst []byte, f float64) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return dst, fmt.Errorf("json: unsupported value: %s", strconv.FormatFloat(f, 'g', -1, 64))
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst, nil
}

// validJSONNumber reports whether s is a JSON number literal.
func validJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	if c := s[0]; c != '-' && (c < '0' || c > '9') {
		return false
	}
	if c := s[len(s)-1]; c < '0' || c > '9' {
		return false
	}
	return json.Valid([]byte(s))
}

// writeJSON writes v as JSON with the given status. For 2xx responses the
// request's fields query parameter (§1.5) is applied first: to each item of
// a listResult, directly to maps and slices of maps, and to other values
// (structs) after a marshal/decode round trip. v itself is never modified.
// The output is byte-for-byte what a json.Encoder with SetEscapeHTML(false)
// produces (map keys sorted, trailing newline); generic values (maps,
// slices, strings, numbers) are encoded without reflection. The body is
// encoded completely before anything is written, so an unencodable value
// becomes a logged 500 envelope rather than half a body.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	if status >= 200 && status < 300 {
		if fields := fieldsParam(r); fields != "" {
			v = applyFields(v, parseFields(fields))
		}
	}
	b, err := encodeJSON(v)
	if err != nil {
		// A programming error (a channel, NaN, a cyclic value, a failing
		// MarshalJSON): logged with the access log's logger, a 500 sent.
		var logger *slog.Logger
		if r != nil {
			logger = loggerFrom(r.Context())
		}
		writeError(w, r, logger, fmt.Errorf("encode response: %w", err))
		return
	}
	defer releaseJSON(b)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b.out)))
	w.WriteHeader(status)
	_, _ = w.Write(b.out)
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
	dec := json.NewDecoder(bytes.NewReader(b.out))
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
	h.Set("Content-Length", strconv.Itoa(len(b.out)))
	h.Del("Content-Disposition")
	w.WriteHeader(env.Status)
	_, _ = w.Write(b.out)
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
