// Package records implements record semantics on top of the store: the
// value model of every field type (normalization, validation, storage
// encoding and wire export), body modifiers, collection preparation and
// validation, and the record service that lists, reads and writes records
// under the collections' API rules.
//
// Field values have one normalized Go representation, used everywhere
// between decoding a request and encoding a response:
//
//	text, editor, email, url, password, date, autodate   string
//	select, relation, file (single, maxSelect <= 1)      string
//	select, relation, file (multiple, maxSelect > 1)     []string, never nil
//	number                                               float64
//	bool                                                 bool
//	json                                                 json.RawMessage (compact), nil for null
//	geoPoint                                             GeoPoint
//
// Dates are "" or base.DateTimeLayout in UTC.
package records

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hanzoai/base"
)

// GeoPoint is the value of a geoPoint field: longitude and latitude in
// degrees. Its JSON form is {"lon":..,"lat":..}.
type GeoPoint struct {
	Lon float64 `json:"lon"`
	Lat float64 `json:"lat"`
}

// Zero returns the zero value of field f in the normalized representation:
// "" for string-valued types, 0 for number, false for bool, an empty
// []string for multiple select/relation/file, nil for json and the
// origin for geoPoint.
func Zero(f *base.Field) any {
	switch f.Type {
	case base.FieldNumber:
		return float64(0)
	case base.FieldBool:
		return false
	case base.FieldJSON:
		return nil
	case base.FieldGeoPoint:
		return GeoPoint{}
	case base.FieldSelect, base.FieldRelation, base.FieldFile:
		if f.Multiple() {
			return []string{}
		}
	}
	return ""
}

// Normalize converts raw, a value decoded from a JSON body (with
// UseNumber: json.Number, string, bool, nil, []any, map[string]any), a
// type-inferred multipart value (string, bool, float64, []string, []any) or
// an already normalized value, into the normalized representation of f. It
// is lenient like PocketBase: it never fails, and input that cannot be
// converted becomes the zero value (or, for json, a JSON string).
//
//   - string types: numbers and bools are formatted, other non-strings are
//     "". Text is not trimmed.
//   - number: numeric strings are parsed, true is 1; anything else is 0.
//   - bool: "true"/"1"/"t" (strconv.ParseBool) and non-zero numbers are true.
//   - date, autodate: parsed from DateTimeLayout, RFC3339 and other common
//     layouts (zone-less ones as UTC) and formatted in DateTimeLayout UTC;
//     unparsable input is "".
//   - select, relation, file: a string (or a JSON array text), an array or a
//     scalar becomes a list of unique non-empty strings; single fields keep
//     the last one.
//   - json: strings follow the multipart rules ("null", "true", "false",
//     numbers and text starting with [, { or " that is valid JSON are
//     parsed, any other string becomes a JSON string); other values are
//     marshaled; the result is compact, and null is nil.
//   - geoPoint: an object, or its JSON text, with lon and lat.
func Normalize(f *base.Field, raw any) any {
	switch f.Type {
	case base.FieldNumber:
		return toFloat(raw)
	case base.FieldBool:
		return toBool(raw)
	case base.FieldDate, base.FieldAutodate:
		return toDate(raw)
	case base.FieldSelect, base.FieldRelation, base.FieldFile:
		vals := uniqueStrings(raw)
		if f.Multiple() {
			return vals
		}
		if len(vals) == 0 {
			return ""
		}
		return vals[len(vals)-1]
	case base.FieldJSON:
		return toJSON(raw)
	case base.FieldGeoPoint:
		return toGeoPoint(raw)
	}
	return validUTF8(toString(raw))
}

// validUTF8 replaces invalid UTF-8 sequences with U+FFFD, as a JSON round
// trip would, so that values are the same before and after storage.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// Validate checks v, a normalized value of f (other values are normalized
// first), against the options of f. It returns nil when v is valid, else
// the first failure with PocketBase's code, message and params. A raw date
// string that no known layout parses is reported as
// validation_invalid_date (Normalize would have made it ""). Checks that
// need the database (unique values, existing related records, primary key
// changes, uploaded file names) are not done here.
func Validate(f *base.Field, v any) *base.FieldError {
	if s, ok := v.(string); ok && s != "" && f.Type == base.FieldDate {
		if _, ok := parseDate(s); !ok {
			return base.NewFieldError("validation_invalid_date", "Must be a valid date", nil)
		}
	}
	if !isNormalized(f, v) {
		v = Normalize(f, v)
	}
	switch f.Type {
	case base.FieldText:
		return validateText(f, v.(string))
	case base.FieldPassword:
		return validatePassword(f, v.(string))
	case base.FieldEditor:
		return validateEditor(f, v.(string))
	case base.FieldNumber:
		return validateNumber(f, v.(float64))
	case base.FieldBool:
		if f.Required && !v.(bool) {
			return required()
		}
		return nil
	case base.FieldEmail:
		return validateEmail(f, v.(string))
	case base.FieldURL:
		return validateURL(f, v.(string))
	case base.FieldDate:
		return validateDate(f, v.(string))
	case base.FieldAutodate:
		return nil
	case base.FieldSelect:
		return validateSelect(f, asList(v))
	case base.FieldRelation:
		return validateRelation(f, asList(v))
	case base.FieldFile:
		return validateFile(f, asList(v))
	case base.FieldJSON:
		raw, _ := v.(json.RawMessage)
		return validateJSON(f, raw)
	case base.FieldGeoPoint:
		return validateGeoPoint(f, v.(GeoPoint))
	}
	return base.NewFieldError("validation_invalid_value", "Invalid value.", nil)
}

// Encode converts v, a normalized value of f (other values are normalized
// first), into the SQL argument stored in f's column: a string for string
// types and single select/relation/file, float64 for number, bool for
// bool, JSON text for multiple select/relation/file ('[]' when empty) and
// geoPoint, JSON text or nil (NULL) for json.
func Encode(f *base.Field, v any) any {
	if !isNormalized(f, v) {
		v = Normalize(f, v)
	}
	switch f.Type {
	case base.FieldJSON:
		raw, _ := v.(json.RawMessage)
		if len(raw) == 0 {
			return nil
		}
		return string(raw)
	case base.FieldGeoPoint:
		return string(marshal(finitePoint(v.(GeoPoint))))
	case base.FieldSelect, base.FieldRelation, base.FieldFile:
		if f.Multiple() {
			return string(marshal(v.([]string)))
		}
	}
	return v
}

// Decode converts src, a column value as database/sql scans it (int64,
// float64, string, []byte, bool, time.Time or nil), back into the
// normalized representation of f. NULL and malformed values decode to the
// zero value; SQLite's numeric affinity (a JSON column holding 12 scans as
// int64) is undone.
func Decode(f *base.Field, src any) any {
	if b, ok := src.([]byte); ok {
		src = string(b)
	}
	switch f.Type {
	case base.FieldNumber:
		switch s := src.(type) {
		case string:
			n, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return float64(0)
			}
			return n
		}
		return toFloat(src)
	case base.FieldBool:
		switch s := src.(type) {
		case string:
			return s == "1" || strings.EqualFold(s, "true")
		}
		return toBool(src)
	case base.FieldDate, base.FieldAutodate:
		if t, ok := src.(time.Time); ok {
			return base.FormatTime(t)
		}
		return toDate(src)
	case base.FieldJSON:
		switch s := src.(type) {
		case nil:
			return nil
		case string:
			if s == "" || s == "null" {
				return nil
			}
			return compactJSON(json.RawMessage(s))
		case int64:
			return json.RawMessage(strconv.FormatInt(s, 10))
		case float64:
			if b, err := json.Marshal(s); err == nil {
				return json.RawMessage(b)
			}
			return nil
		case bool:
			return json.RawMessage(strconv.FormatBool(s))
		}
		return toJSON(src)
	case base.FieldGeoPoint:
		return toGeoPoint(src)
	}
	return Normalize(f, src)
}

// Export returns the JSON value of v, a normalized value of f (other
// values are normalized first), for the wire: strings, float64, bool,
// []string (never nil), json.RawMessage or nil (null) for json, GeoPoint.
// Password fields are never serialized: Export returns nil for them and
// callers must omit the key.
func Export(f *base.Field, v any) any {
	if f.Type == base.FieldPassword {
		return nil
	}
	if !isNormalized(f, v) {
		v = Normalize(f, v)
	}
	if f.Type == base.FieldJSON {
		raw, _ := v.(json.RawMessage)
		if len(raw) == 0 {
			return nil
		}
		return raw
	}
	if p, ok := v.(GeoPoint); ok {
		return finitePoint(p)
	}
	return v
}

// finitePoint replaces non-finite coordinates (which JSON cannot carry)
// with 0.
func finitePoint(p GeoPoint) GeoPoint {
	if math.IsNaN(p.Lon) || math.IsInf(p.Lon, 0) {
		p.Lon = 0
	}
	if math.IsNaN(p.Lat) || math.IsInf(p.Lat, 0) {
		p.Lat = 0
	}
	return p
}

// isNormalized reports whether v already has the normalized Go type of f.
func isNormalized(f *base.Field, v any) bool {
	switch f.Type {
	case base.FieldNumber:
		_, ok := v.(float64)
		return ok
	case base.FieldBool:
		_, ok := v.(bool)
		return ok
	case base.FieldJSON:
		if v == nil {
			return true
		}
		_, ok := v.(json.RawMessage)
		return ok
	case base.FieldGeoPoint:
		_, ok := v.(GeoPoint)
		return ok
	case base.FieldSelect, base.FieldRelation, base.FieldFile:
		if f.Multiple() {
			l, ok := v.([]string)
			return ok && l != nil
		}
	case base.FieldDate, base.FieldAutodate:
		s, ok := v.(string)
		if !ok {
			return false
		}
		if s == "" {
			return true
		}
		_, err := time.Parse(base.DateTimeLayout, s)
		return err == nil
	}
	_, ok := v.(string)
	return ok
}

// asList returns a select/relation/file value as a list.
func asList(v any) []string {
	switch x := v.(type) {
	case []string:
		return uniqueStrings(x)
	case string:
		if x == "" {
			return nil
		}
		return []string{x}
	}
	return nil
}

// --- casts ------------------------------------------------------------------

// toString is PocketBase's lenient string cast.
func toString(raw any) string {
	switch v := raw.(type) {
	case nil:
		return ""
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case []byte:
		return string(v)
	case json.RawMessage:
		return string(v)
	case fmt.Stringer:
		return v.String()
	}
	return ""
}

// toFloat is PocketBase's lenient number cast.
func toFloat(raw any) float64 {
	switch v := raw.(type) {
	case float64:
		return v
	case float32:
		return float64(v)
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case int32:
		return float64(v)
	case uint64:
		return float64(v)
	case json.Number:
		n, err := v.Float64()
		if err != nil {
			return 0
		}
		return n
	case string:
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0
		}
		return n
	case bool:
		if v {
			return 1
		}
	}
	return 0
}

// toBool is PocketBase's lenient bool cast.
func toBool(raw any) bool {
	switch v := raw.(type) {
	case bool:
		return v
	case string:
		b, _ := strconv.ParseBool(v)
		return b
	case json.Number:
		n, err := v.Float64()
		return err == nil && n != 0
	case float64, float32, int, int64, int32, uint64:
		return toFloat(v) != 0
	}
	return false
}

// dateLayouts are the layouts tried after DateTimeLayout, in order.
var dateLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05", // ISO 8601 without zone
	time.RFC1123Z,
	time.RFC1123,
	time.RFC822Z,
	time.RFC822,
	time.RFC850,
	"2006-01-02 15:04:05.999999999 -0700 MST", // time.Time.String
	"2006-01-02T15:04:05-0700",
	"2006-01-02 15:04:05Z0700",
	"2006-01-02 15:04:05",
	time.ANSIC,
	time.UnixDate,
	time.RubyDate,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02",
	"02 Jan 2006",
	"2006-01-02 15:04:05 -07:00",
	"2006-01-02 15:04:05 -0700",
}

// parseDate parses s in DateTimeLayout or one of dateLayouts; zone-less
// layouts are read as UTC.
func parseDate(s string) (time.Time, bool) {
	if t, err := time.Parse(base.DateTimeLayout, s); err == nil {
		return t, true
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// toDate is PocketBase's lenient datetime cast, formatted in
// DateTimeLayout ("" for the zero time). Go integers are Unix seconds;
// JSON numbers are not dates.
func toDate(raw any) string {
	var t time.Time
	switch v := raw.(type) {
	case time.Time:
		t = v
	case int:
		t = time.Unix(int64(v), 0)
	case int64:
		t = time.Unix(v, 0)
	case string:
		if v == "" {
			return ""
		}
		t, _ = parseDate(v)
	default:
		return ""
	}
	if t.IsZero() {
		return ""
	}
	return base.FormatTime(t)
}

// uniqueStrings is PocketBase's list cast: a list of unique non-empty
// strings, in order of first appearance.
func uniqueStrings(raw any) []string {
	var in []string
	switch v := raw.(type) {
	case nil:
	case []string:
		in = v
	case string:
		if v == "" {
			break
		}
		if strings.Contains(v, "[") {
			if err := json.Unmarshal([]byte(v), &in); err != nil {
				in = []string{v}
			}
		} else {
			in = []string{v}
		}
	case []any:
		in = make([]string, len(v))
		for i, x := range v {
			in[i] = toString(x)
		}
	case json.RawMessage:
		_ = json.Unmarshal(v, &in)
	case map[string]any:
	default:
		in = []string{toString(v)}
	}
	out := make([]string, 0, len(in))
	for _, s := range in {
		s = validUTF8(s)
		if s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// toJSON converts raw into a compact JSON value (nil for null).
func toJSON(raw any) any {
	var b []byte
	switch v := raw.(type) {
	case nil:
		return nil
	case json.RawMessage:
		b = v
	case []byte:
		b = v
	case string:
		switch {
		case v == "null":
			return nil
		case v == "true" || v == "false":
			b = []byte(v)
		case v != "" && strings.IndexByte("0123456789-\"[{", v[0]) >= 0 && json.Valid([]byte(v)):
			b = []byte(v)
		default:
			b = marshal(v)
		}
	default:
		var err error
		if b, err = marshalErr(v); err != nil {
			return nil
		}
	}
	if len(b) == 0 {
		return nil
	}
	out := compactJSON(json.RawMessage(b))
	if string(out) == "null" {
		return nil
	}
	return out
}

// compactJSON compacts valid JSON text; invalid text is returned as is
// (Validate reports it).
func compactJSON(b json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return slices.Clone(b)
	}
	return json.RawMessage(buf.Bytes())
}

// toGeoPoint reads an object with lon and lat (or its JSON text);
// components that are not numbers are 0.
func toGeoPoint(raw any) GeoPoint {
	var m map[string]any
	switch v := raw.(type) {
	case GeoPoint:
		return v
	case *GeoPoint:
		if v != nil {
			return *v
		}
		return GeoPoint{}
	case map[string]any:
		m = v
	case string, []byte, json.RawMessage:
		d := json.NewDecoder(strings.NewReader(toString(v)))
		d.UseNumber()
		if d.Decode(&m) != nil {
			return GeoPoint{}
		}
	default:
		return GeoPoint{}
	}
	return GeoPoint{Lon: toFloat(m["lon"]), Lat: toFloat(m["lat"])}
}

// marshal encodes v as JSON without HTML escaping; v must be encodable.
func marshal(v any) []byte {
	b, err := marshalErr(v)
	if err != nil {
		panic(fmt.Sprintf("records: marshal %T: %v", v, err))
	}
	return b
}

func marshalErr(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// --- validation ---------------------------------------------------------------

func required() *base.FieldError {
	return base.NewFieldError(base.ErrRequired.Code, base.ErrRequired.Message, nil)
}

// pkForbidden are characters a primary key may not contain, whatever its
// pattern: ids end up in file paths.
var pkForbidden = []string{"/", `\`}

func validateText(f *base.Field, s string) *base.FieldError {
	if (f.Required || f.PrimaryKey) && s == "" {
		return required()
	}
	if s == "" {
		return nil
	}
	if f.PrimaryKey {
		for _, c := range pkForbidden {
			if strings.Contains(s, c) {
				return base.NewFieldError("validation_pk_forbidden",
					"The record primary key contains forbidden characters.", map[string]any{"forbidden": c})
			}
		}
	}
	n := utf8.RuneCountInString(s)
	if f.Min > 0 && n < f.Min {
		return base.NewFieldError("validation_min_text_constraint",
			fmt.Sprintf("Must be at least %d character(s)", f.Min), map[string]any{"min": f.Min})
	}
	maxN := f.Max
	if maxN <= 0 {
		maxN = base.DefaultTextMax
	}
	if n > maxN {
		return base.NewFieldError("validation_max_text_constraint",
			fmt.Sprintf("Must be no more than %d character(s)", maxN), map[string]any{"max": maxN})
	}
	if f.Pattern != "" {
		re, err := regexp.Compile(f.Pattern)
		if err != nil || !re.MatchString(s) {
			return base.NewFieldError("validation_invalid_format", "Invalid value format", nil)
		}
	}
	return nil
}

func validatePassword(f *base.Field, s string) *base.FieldError {
	if f.Required && s == "" {
		return required()
	}
	if s == "" {
		return nil
	}
	n := utf8.RuneCountInString(s)
	if f.Min > 0 && n < f.Min {
		return base.NewFieldError("validation_min_text_constraint",
			fmt.Sprintf("Must be at least %d character(s)", f.Min), map[string]any{"min": f.Min})
	}
	if f.Max > 0 && n > f.Max {
		return base.NewFieldError("validation_max_text_constraint",
			fmt.Sprintf("Must be no more than %d character(s)", f.Max), map[string]any{"max": f.Max})
	}
	if f.Pattern != "" {
		re, err := regexp.Compile(f.Pattern)
		if err != nil || !re.MatchString(s) {
			return base.NewFieldError("validation_invalid_format", "Invalid value format", nil)
		}
	}
	return nil
}

func validateEditor(f *base.Field, s string) *base.FieldError {
	if f.Required && s == "" {
		return required()
	}
	if maxSize := f.EffectiveMaxSize(); int64(len(s)) > maxSize {
		return base.NewFieldError("validation_content_size_limit",
			fmt.Sprintf("The maximum allowed content size is %d bytes", maxSize), map[string]any{"maxSize": maxSize})
	}
	return nil
}

func validateNumber(f *base.Field, n float64) *base.FieldError {
	if math.IsNaN(n) || math.IsInf(n, 0) {
		return base.NewFieldError("validation_not_a_number", "The submitted number is not properly formatted", nil)
	}
	if n == 0 {
		if f.Required {
			return required()
		}
		return nil
	}
	if f.OnlyInt && n != math.Trunc(n) {
		return base.NewFieldError("validation_only_int_constraint", "Decimal numbers are not allowed", nil)
	}
	if f.MinNumber != nil && n < *f.MinNumber {
		return base.NewFieldError("validation_min_number_constraint",
			fmt.Sprintf("Must be larger than %f", *f.MinNumber), map[string]any{"min": *f.MinNumber})
	}
	if f.MaxNumber != nil && n > *f.MaxNumber {
		return base.NewFieldError("validation_max_number_constraint",
			fmt.Sprintf("Must be less than %f", *f.MaxNumber), map[string]any{"max": *f.MaxNumber})
	}
	return nil
}

// emailRe is a syntax check of an address: a dot-atom local part and a
// domain of at least two labels whose last one starts with a letter.
var emailRe = regexp.MustCompile(`^[\p{L}\p{N}!#$%&'*+/=?^_` + "`" + `{|}~-]+(\.[\p{L}\p{N}!#$%&'*+/=?^_` + "`" + `{|}~-]+)*@` +
	`([\p{L}\p{N}]([\p{L}\p{N}-]*[\p{L}\p{N}])?\.)+[\p{L}]([\p{L}\p{N}-]*[\p{L}\p{N}])?$`)

// validEmail reports whether s is a syntactically valid email address.
func validEmail(s string) bool {
	if len(s) > 254 {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at > 64 {
		return false
	}
	return emailRe.MatchString(s)
}

func validateEmail(f *base.Field, s string) *base.FieldError {
	if f.Required && s == "" {
		return required()
	}
	if s == "" {
		return nil
	}
	if !validEmail(s) {
		return base.NewFieldError("validation_is_email", "Must be a valid email address", nil)
	}
	domain := s[strings.LastIndexByte(s, '@')+1:]
	if len(f.OnlyDomains) > 0 && !slices.Contains(f.OnlyDomains, domain) {
		return base.NewFieldError("validation_email_domain_not_allowed", "Email domain is not allowed", nil)
	}
	if len(f.ExceptDomains) > 0 && slices.Contains(f.ExceptDomains, domain) {
		return base.NewFieldError("validation_email_domain_not_allowed", "Email domain is not allowed", nil)
	}
	return nil
}

// urlSchemes are the schemes a url field accepts; a URL without a scheme
// is read as http.
var urlSchemes = []string{"http", "https", "ftp", "ws", "wss", "tcp", "udp"}

var hostLabelRe = regexp.MustCompile(`^[\p{L}\p{N}_]([\p{L}\p{N}_-]*[\p{L}\p{N}_])?$`)

// validHost reports whether h is an IP address, localhost or a domain name
// of at least two labels.
func validHost(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	if net.ParseIP(strings.Trim(h, "[]")) != nil || h == "localhost" {
		return true
	}
	labels := strings.Split(strings.TrimSuffix(h, "."), ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) > 63 || !hostLabelRe.MatchString(l) {
			return false
		}
	}
	return true
}

// parseURL parses s as a url field value; ok is false when it is not a
// valid absolute URL.
func parseURL(s string) (*url.URL, bool) {
	if len(s) >= 2083 || strings.ContainsAny(s, " \t\r\n") || strings.HasPrefix(s, ".") {
		return nil, false
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || !slices.Contains(urlSchemes, strings.ToLower(u.Scheme)) {
		return nil, false
	}
	if !validHost(u.Hostname()) {
		return nil, false
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, false
		}
	}
	return u, true
}

func validateURL(f *base.Field, s string) *base.FieldError {
	if f.Required && s == "" {
		return required()
	}
	if s == "" {
		return nil
	}
	u, ok := parseURL(s)
	if !ok {
		return base.NewFieldError("validation_invalid_url", "Must be a valid url", nil)
	}
	if len(f.OnlyDomains) > 0 && !slices.Contains(f.OnlyDomains, u.Host) {
		return base.NewFieldError("validation_url_domain_not_allowed", "Url domain is not allowed", nil)
	}
	if len(f.ExceptDomains) > 0 && slices.Contains(f.ExceptDomains, u.Host) {
		return base.NewFieldError("validation_url_domain_not_allowed", "Url domain is not allowed", nil)
	}
	return nil
}

func validateDate(f *base.Field, s string) *base.FieldError {
	if s == "" {
		if f.Required {
			return required()
		}
		return nil
	}
	t, err := time.Parse(base.DateTimeLayout, s)
	if err != nil {
		return base.NewFieldError("validation_invalid_date", "Must be a valid date", nil)
	}
	if f.MinDate != "" {
		if minT, ok := parseDate(f.MinDate); ok && t.Before(minT) {
			th := base.FormatTime(minT)
			return base.NewFieldError("validation_min_greater_equal_than_required",
				"Must be no less than "+th, map[string]any{"threshold": th})
		}
	}
	if f.MaxDate != "" {
		if maxT, ok := parseDate(f.MaxDate); ok && t.After(maxT) {
			th := base.FormatTime(maxT)
			return base.NewFieldError("validation_max_less_equal_than_required",
				"Must be no greater than "+th, map[string]any{"threshold": th})
		}
	}
	return nil
}

func tooMany(maxSelect int) *base.FieldError {
	return base.NewFieldError("validation_too_many_values",
		fmt.Sprintf("Select no more than %d", maxSelect), map[string]any{"maxSelect": maxSelect})
}

func validateSelect(f *base.Field, vals []string) *base.FieldError {
	if len(vals) == 0 {
		if f.Required {
			return required()
		}
		return nil
	}
	if maxSelect := max(f.MaxSelect, 1); len(vals) > maxSelect {
		return tooMany(maxSelect)
	}
	for _, v := range vals {
		if !slices.Contains(f.Values, v) {
			return base.NewFieldError("validation_invalid_value", "Invalid value "+v, map[string]any{"value": v})
		}
	}
	return nil
}

func validateRelation(f *base.Field, ids []string) *base.FieldError {
	if len(ids) == 0 {
		if f.Required {
			return required()
		}
		return nil
	}
	if f.MinSelect > 0 && len(ids) < f.MinSelect {
		return base.NewFieldError("validation_not_enough_values",
			fmt.Sprintf("Select at least %d", f.MinSelect), map[string]any{"minSelect": f.MinSelect})
	}
	if maxSelect := max(f.MaxSelect, 1); len(ids) > maxSelect {
		return tooMany(maxSelect)
	}
	return nil
}

func validateFile(f *base.Field, names []string) *base.FieldError {
	if len(names) == 0 {
		if f.Required {
			return required()
		}
		return nil
	}
	if maxSelect := max(f.MaxSelect, 1); len(names) > maxSelect {
		return base.NewFieldError("validation_too_many_files",
			fmt.Sprintf("The maximum allowed files is %d", maxSelect), map[string]any{"maxSelect": maxSelect})
	}
	return nil
}

// emptyJSON are the JSON values a required json field rejects.
var emptyJSON = []string{"", "null", `""`, "[]", "{}"}

func validateJSON(f *base.Field, raw json.RawMessage) *base.FieldError {
	if maxSize := f.EffectiveMaxSize(); int64(len(raw)) > maxSize {
		return base.NewFieldError("validation_json_size_limit",
			fmt.Sprintf("The maximum allowed JSON size is %d bytes", maxSize), map[string]any{"maxSize": maxSize})
	}
	if len(raw) > 0 && !json.Valid(raw) {
		return base.NewFieldError("validation_invalid_json", "Must be a valid json value", nil)
	}
	if f.Required && slices.Contains(emptyJSON, strings.TrimSpace(string(raw))) {
		return required()
	}
	return nil
}

func validateGeoPoint(f *base.Field, p GeoPoint) *base.FieldError {
	if p.Lon == 0 && p.Lat == 0 {
		if f.Required {
			return required()
		}
		return nil
	}
	if math.IsNaN(p.Lat) || p.Lat < -90 || p.Lat > 90 {
		return base.NewFieldError("validation_invalid_latitude", "Latitude must be between -90 and 90 degrees.", nil)
	}
	if math.IsNaN(p.Lon) || p.Lon < -180 || p.Lon > 180 {
		return base.NewFieldError("validation_invalid_longitude", "Longitude must be between -180 and 180 degrees.", nil)
	}
	return nil
}
