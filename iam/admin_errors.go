package iam

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by the errors of admin operations given invalid
// input (a bad name, URI, grant type, unknown role…): the admin API answers
// 400 with the message.
var ErrInvalid = errors.New("invalid")

// ErrConflict is wrapped by the errors of admin operations that clash with
// existing state (a domain another org claims, a duplicate name): the admin
// API answers 409.
var ErrConflict = errors.New("conflict")

func invalidf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func conflictf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrConflict, fmt.Sprintf(format, args...))
}
