package handler

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hanzoai/base"
)

// requestBody is a decoded request body. Data holds the submitted values:
// JSON numbers as json.Number, inferred multipart/form numbers as float64,
// repeated form keys as []any. Files holds the uploaded file parts keyed by
// their verbatim part name ("name", "name+", "+name", "requests.0.name",
// "requests[0].name").
type requestBody struct {
	Data  map[string]any
	Files map[string][]*multipart.FileHeader
}

// multipartMemory is how much of the file parts of one multipart body is
// kept in memory; the rest goes to temporary files. Non-file parts get
// another 10 MB on top (net/http's fixed allowance), always within maxBytes.
const multipartMemory int64 = 2 << 20

// jsonPayloadKey is the multipart part holding a JSON object that is merged
// on top of the other values without type inference (§2.7).
const jsonPayloadKey = "@jsonPayload"

// errInvalidBody is the message PocketBase uses for undecodable bodies.
const errInvalidBody = "Failed to load the submitted data due to invalid formatting."

// readBody decodes the request body (§2.7) of at most maxBytes bytes
// (defaultBodyLimit when maxBytes <= 0).
//
//   - An empty body, whatever its Content-Type, yields empty Data.
//   - application/json (or a +json type, or no Content-Type): a JSON object
//     decoded with UseNumber. Anything else (array, null, scalar, malformed
//     or trailing data) is a 400 with errInvalidBody.
//   - multipart/form-data: non-file parts are type-inferred (inferValue),
//     repeated keys become []any, every @jsonPayload part is decoded as a
//     JSON object without inference and merged on top, later parts winning;
//     file parts go to Files. File parts beyond multipartMemory are spooled
//     to temporary files. They are removed when the request ends: by
//     net/http when r is the request the server passed in (readBody sets
//     r.MultipartForm), and otherwise by accessLog or limitBody, which own the
//     request state readBody registers the cleanup with. A handler called
//     outside both on a derived request must call r.MultipartForm.RemoveAll
//     itself.
//   - application/x-www-form-urlencoded: like multipart without files.
//   - Any other Content-Type with a body: 400 "Unsupported Content-Type.".
//
// A body over maxBytes is a 413 (base.TooLarge). Every error is a
// *base.Error with status 400 or 413. Calling readBody again on a multipart
// request reuses the parsed form; other bodies can be read only once.
func readBody(r *http.Request, maxBytes int64) (*requestBody, error) {
	body := &requestBody{Data: map[string]any{}}
	if maxBytes <= 0 {
		maxBytes = defaultBodyLimit
	}
	if r.MultipartForm != nil {
		if err := body.fromForm(r.MultipartForm.Value); err != nil {
			return nil, err
		}
		body.Files = r.MultipartForm.File
		return body, nil
	}
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return body, nil
	}
	if r.ContentLength > maxBytes {
		return nil, base.TooLarge("")
	}
	r.Body = http.MaxBytesReader(nil, r.Body, maxBytes)

	// Peek one byte: an empty body is "no body" whatever the Content-Type
	// (the SDK sends Content-Type: application/json on GET and DELETE).
	var first [1]byte
	n, err := io.ReadFull(r.Body, first[:])
	if n == 0 {
		if errors.Is(err, io.EOF) {
			return body, nil
		}
		return nil, readError(err)
	}
	src := io.MultiReader(bytes.NewReader(first[:]), r.Body)

	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil && r.Header.Get("Content-Type") != "" {
		return nil, base.BadRequest("Unsupported Content-Type.", nil).Wrap(err)
	}
	switch {
	case mediaType == "" || mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"):
		return body, body.fromJSON(src)
	case mediaType == "multipart/form-data":
		return body, body.fromMultipart(r, src, params["boundary"])
	case mediaType == "application/x-www-form-urlencoded":
		raw, err := io.ReadAll(src)
		if err != nil {
			return nil, readError(err)
		}
		values, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, base.BadRequest(errInvalidBody, nil).Wrap(err)
		}
		return body, body.fromForm(values)
	default:
		return nil, base.BadRequest("Unsupported Content-Type.", nil)
	}
}

// readError maps a body read failure to 413 or 400.
func readError(err error) *base.Error {
	if errTooLarge(err) || errors.Is(err, multipart.ErrMessageTooLarge) {
		return base.TooLarge("").Wrap(err)
	}
	return base.BadRequest(errInvalidBody, nil).Wrap(err)
}

// fromJSON decodes one JSON object from src into b.Data.
func (b *requestBody) fromJSON(src io.Reader) error {
	dec := json.NewDecoder(src)
	dec.UseNumber()
	var data map[string]any
	if err := dec.Decode(&data); err != nil {
		if errors.Is(err, io.EOF) {
			return nil // whitespace only: no body
		}
		return readError(err)
	}
	if data == nil {
		return base.BadRequest(errInvalidBody, nil) // null
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if err != nil {
			return readError(err)
		}
		return base.BadRequest(errInvalidBody, nil) // trailing data
	}
	b.Data = data
	return nil
}

// fromMultipart parses a multipart/form-data body.
func (b *requestBody) fromMultipart(r *http.Request, src io.Reader, boundary string) error {
	if boundary == "" {
		return base.BadRequest(errInvalidBody, nil)
	}
	form, err := multipart.NewReader(src, boundary).ReadForm(multipartMemory)
	if err != nil {
		return readError(err)
	}
	r.MultipartForm = form
	if st := stateFrom(r.Context()); st != nil {
		st.onDone(func() { _ = form.RemoveAll() })
	}
	if err := b.fromForm(form.Value); err != nil {
		return err
	}
	b.Files = form.File
	return nil
}

// fromForm fills b.Data from form values: inferred scalars, []any for
// repeated keys, then the @jsonPayload objects merged on top in order.
func (b *requestBody) fromForm(values map[string][]string) error {
	for k, vs := range values {
		if k == jsonPayloadKey {
			continue
		}
		switch len(vs) {
		case 0:
		case 1:
			b.Data[k] = inferValue(vs[0])
		default:
			arr := make([]any, len(vs))
			for i, v := range vs {
				arr[i] = inferValue(v)
			}
			b.Data[k] = arr
		}
	}
	for _, payload := range values[jsonPayloadKey] {
		if strings.TrimSpace(payload) == "" {
			continue
		}
		var obj map[string]any
		dec := json.NewDecoder(strings.NewReader(payload))
		dec.UseNumber()
		if err := dec.Decode(&obj); err != nil || obj == nil {
			return base.BadRequest(errInvalidBody, nil).Wrap(err)
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return base.BadRequest(errInvalidBody, nil)
		}
		for k, v := range obj {
			b.Data[k] = v
		}
	}
	return nil
}

// inferValue types a form string as PocketBase does: "true"/"false" are
// bools, a string that is exactly the shortest decimal form of a number is
// a float64 ("12", "-1.5"; not "012", "1.0", "1e3", "+1"), anything else
// (including "") stays a string.
func inferValue(s string) any {
	switch s {
	case "":
		return s
	case "true":
		return true
	case "false":
		return false
	}
	c := s[0]
	if c != '-' && (c < '0' || c > '9') {
		return s
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || strconv.FormatFloat(f, 'f', -1, 64) != s {
		return s
	}
	return f
}
