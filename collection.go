package base

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// DateTimeLayout is the wire and storage format of datetimes: UTC with a
// space separator and milliseconds, e.g. "2024-05-01 10:20:30.123Z".
const DateTimeLayout = "2006-01-02 15:04:05.000Z"

// FormatTime formats t in DateTimeLayout (UTC). The zero time is "".
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(DateTimeLayout)
}

// CollectionType is the kind of a collection.
type CollectionType string

// Collection types.
const (
	TypeBase CollectionType = "base"
	TypeAuth CollectionType = "auth"
	TypeView CollectionType = "view"
)

// UsersCollection is the name of the auth collection every org has: a mirror
// of IAM identities.
const UsersCollection = "users"

// Collection is a collection definition: its fields, indexes and API rules.
// A nil rule is locked (superusers only); an empty rule is open to everyone.
type Collection struct {
	ID     string         `json:"id"`
	Name   string         `json:"name"`
	Type   CollectionType `json:"type"`
	System bool           `json:"system"`

	ListRule   *string `json:"listRule"`
	ViewRule   *string `json:"viewRule"`
	CreateRule *string `json:"createRule"`
	UpdateRule *string `json:"updateRule"`
	DeleteRule *string `json:"deleteRule"`

	// Auth collections only.
	AuthRule   *string `json:"authRule"`
	ManageRule *string `json:"manageRule"`

	// View collections only: the SELECT that defines the view.
	ViewQuery string `json:"viewQuery"`

	Fields  []*Field `json:"fields"`
	Indexes []string `json:"indexes"`

	Created string `json:"created"`
	Updated string `json:"updated"`
}

// Field returns the field named name (case-sensitive), or nil.
func (c *Collection) Field(name string) *Field {
	for _, f := range c.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// FieldByID returns the field with the given id, or nil.
func (c *Collection) FieldByID(id string) *Field {
	for _, f := range c.Fields {
		if f.ID == id {
			return f
		}
	}
	return nil
}

// IsAuth reports whether c is an auth collection.
func (c *Collection) IsAuth() bool { return c.Type == TypeAuth }

// IsView reports whether c is a view collection.
func (c *Collection) IsView() bool { return c.Type == TypeView }

// Clone returns a deep copy of c.
func (c *Collection) Clone() *Collection {
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("clone collection: %v", err))
	}
	var out Collection
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("clone collection: %v", err))
	}
	return &out
}

// MarshalJSON renders the PocketBase collection model: auth-only and
// view-only keys appear only for those types, and rules render as null or
// their text.
func (c *Collection) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"id":         c.ID,
		"name":       c.Name,
		"type":       c.Type,
		"system":     c.System,
		"listRule":   c.ListRule,
		"viewRule":   c.ViewRule,
		"createRule": c.CreateRule,
		"updateRule": c.UpdateRule,
		"deleteRule": c.DeleteRule,
		"fields":     nonNilFields(c.Fields),
		"indexes":    nonNilStrings(c.Indexes),
		"created":    c.Created,
		"updated":    c.Updated,
	}
	switch c.Type {
	case TypeView:
		m["viewQuery"] = c.ViewQuery
	case TypeAuth:
		m["authRule"] = c.AuthRule
		m["manageRule"] = c.ManageRule
		for k, v := range authCollectionDefaults() {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// UnmarshalJSON reads the collection model on top of c's current values
// (so a PATCH body changes only the keys it has); unknown keys are ignored.
func (c *Collection) UnmarshalJSON(b []byte) error {
	type plain Collection
	p := plain(*c)
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*c = Collection(p)
	if c.Type == "" {
		c.Type = TypeBase
	}
	return nil
}

// authCollectionDefaults are the fixed auth options Base reports for auth
// collections: identity comes from the IAM, so local password, OTP and MFA
// logins are disabled and only the "iam" OAuth2 provider exists.
func authCollectionDefaults() map[string]any {
	tpl := map[string]any{"subject": "", "body": ""}
	return map[string]any{
		"authAlert":                  map[string]any{"enabled": false, "emailTemplate": tpl},
		"oauth2":                     map[string]any{"enabled": true, "mappedFields": map[string]any{"id": "", "name": "", "username": "", "avatarURL": ""}, "providers": []any{}},
		"passwordAuth":               map[string]any{"enabled": false, "identityFields": []string{}},
		"mfa":                        map[string]any{"enabled": false, "duration": 0, "rule": ""},
		"otp":                        map[string]any{"enabled": false, "duration": 0, "length": 0, "emailTemplate": tpl},
		"authToken":                  map[string]any{"duration": 0},
		"passwordResetToken":         map[string]any{"duration": 0},
		"emailChangeToken":           map[string]any{"duration": 0},
		"verificationToken":          map[string]any{"duration": 0},
		"fileToken":                  map[string]any{"duration": 180},
		"verificationTemplate":       tpl,
		"resetPasswordTemplate":      tpl,
		"confirmEmailChangeTemplate": tpl,
	}
}

func nonNilFields(f []*Field) []*Field {
	if f == nil {
		return []*Field{}
	}
	return f
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ValidName reports whether s is a valid collection or field name:
// a letter or underscore, then letters, digits and underscores, at most 255
// characters.
func ValidName(s string) bool {
	if s == "" || len(s) > 255 {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// ValidOrg reports whether s is a valid organization name:
// [a-z0-9][a-z0-9_-]{0,62}.
func ValidOrg(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case (r == '_' || r == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

// StringPtr returns a pointer to s, for rules.
func StringPtr(s string) *string { return &s }

// RuleString renders a rule for logs: "null" for nil.
func RuleString(r *string) string {
	if r == nil {
		return "null"
	}
	return fmt.Sprintf("%q", strings.TrimSpace(*r))
}
