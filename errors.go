package base

import (
	"errors"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Error is an error that maps to an HTTP status and the PocketBase error
// envelope {"status","message","data"}. Data holds per-field validation
// errors (FieldError leaves, possibly nested maps) and is never nil when
// rendered. Err, if set, is the underlying cause; it is logged, never sent.
type Error struct {
	Status  int
	Message string
	Data    map[string]any
	Err     error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// NewError returns an *Error with the given status, message and data. An
// empty message is replaced by the status's default message.
func NewError(status int, message string, data map[string]any) *Error {
	if message == "" {
		message = DefaultMessage(status)
	}
	return &Error{Status: status, Message: Sentenize(message), Data: data}
}

// DefaultMessage is PocketBase's default message for a status.
func DefaultMessage(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "Something went wrong while processing your request."
	case http.StatusUnauthorized:
		return "Missing or invalid authentication."
	case http.StatusForbidden:
		return "You are not allowed to perform this request."
	case http.StatusNotFound:
		return "The requested resource wasn't found."
	case http.StatusRequestEntityTooLarge:
		return "Request entity too large."
	case http.StatusTooManyRequests:
		return "Too Many Requests."
	case http.StatusServiceUnavailable:
		return "Service temporarily unavailable."
	default:
		return "Something went wrong while processing your request."
	}
}

// BadRequest is a 400 with optional field errors.
func BadRequest(message string, data map[string]any) *Error {
	return NewError(http.StatusBadRequest, message, data)
}

// NotFound is a 404.
func NotFound(message string) *Error { return NewError(http.StatusNotFound, message, nil) }

// Forbidden is a 403.
func Forbidden(message string) *Error { return NewError(http.StatusForbidden, message, nil) }

// Unauthorized is a 401.
func Unauthorized(message string) *Error { return NewError(http.StatusUnauthorized, message, nil) }

// TooLarge is a 413.
func TooLarge(message string) *Error {
	return NewError(http.StatusRequestEntityTooLarge, message, nil)
}

// Unavailable is a 503, for a backing service that is down; the request may
// be retried.
func Unavailable(cause error) *Error {
	e := NewError(http.StatusServiceUnavailable, "", nil)
	e.Err = cause
	return e
}

// Wrap attaches a cause to e and returns it.
func (e *Error) Wrap(cause error) *Error { e.Err = cause; return e }

// AsError reports err as an *Error: itself when it is one (or wraps one),
// else a 500 carrying err as its cause.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusInternalServerError, Message: DefaultMessage(500), Err: err}
}

// FieldError is one validation failure: a machine code, a human message and
// optional template params. It is the leaf of Error.Data.
type FieldError struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Params  map[string]any `json:"params,omitempty"`
}

// Error implements error.
func (e *FieldError) Error() string { return e.Message }

// NewFieldError returns a FieldError with a sentenized message.
func NewFieldError(code, message string, params map[string]any) *FieldError {
	return &FieldError{Code: code, Message: Sentenize(message), Params: params}
}

// Common field errors.
var (
	ErrRequired     = &FieldError{Code: "validation_required", Message: "Cannot be blank."}
	ErrNotUnique    = &FieldError{Code: "validation_not_unique", Message: "Value must be unique."}
	ErrInvalidValue = &FieldError{Code: "validation_invalid_value", Message: "Invalid value."}
)

// Sentenize upper-cases the first letter and ends the text with a period,
// as PocketBase does for error messages.
func Sentenize(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") && !strings.HasSuffix(s, "!") && !strings.HasSuffix(s, "?") {
		s += "."
	}
	return s
}
