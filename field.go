package base

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
)

// FieldType is the type of a collection field.
type FieldType string

// Field types of the PocketBase wire protocol.
const (
	FieldText     FieldType = "text"
	FieldEditor   FieldType = "editor"
	FieldNumber   FieldType = "number"
	FieldBool     FieldType = "bool"
	FieldEmail    FieldType = "email"
	FieldURL      FieldType = "url"
	FieldDate     FieldType = "date"
	FieldAutodate FieldType = "autodate"
	FieldSelect   FieldType = "select"
	FieldFile     FieldType = "file"
	FieldRelation FieldType = "relation"
	FieldJSON     FieldType = "json"
	FieldGeoPoint FieldType = "geoPoint"
	FieldPassword FieldType = "password"
)

// FieldTypes lists every known field type.
var FieldTypes = []FieldType{
	FieldText, FieldEditor, FieldNumber, FieldBool, FieldEmail, FieldURL, FieldDate,
	FieldAutodate, FieldSelect, FieldFile, FieldRelation, FieldJSON, FieldGeoPoint, FieldPassword,
}

// KnownFieldType reports whether t is a field type Base implements.
func KnownFieldType(t FieldType) bool {
	for _, k := range FieldTypes {
		if k == t {
			return true
		}
	}
	return false
}

// Default size limits applied when a field's MaxSize is 0.
const (
	DefaultEditorMaxSize = 5 << 20
	DefaultFileMaxSize   = 5 << 20
	DefaultJSONMaxSize   = 1 << 20
	DefaultTextMax       = 5000
)

// Field is one field of a collection. Which options apply depends on Type;
// JSON encoding writes exactly the keys of that type (see MarshalJSON).
type Field struct {
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Type        FieldType `json:"type"`
	System      bool      `json:"system"`
	Hidden      bool      `json:"hidden"`
	Presentable bool      `json:"presentable"`
	Required    bool      `json:"required"`
	Help        string    `json:"help"`

	// text and password: length bounds in characters (0 = none).
	Min                 int    `json:"-"`
	Max                 int    `json:"-"`
	Pattern             string `json:"-"`
	AutogeneratePattern string `json:"-"`
	PrimaryKey          bool   `json:"-"`

	// number: bounds (nil = none) and integer-only.
	MinNumber *float64 `json:"-"`
	MaxNumber *float64 `json:"-"`
	OnlyInt   bool     `json:"-"`

	// date: bounds as datetime strings ("" = none).
	MinDate string `json:"-"`
	MaxDate string `json:"-"`

	// email and url: domain allow/deny lists.
	ExceptDomains []string `json:"-"`
	OnlyDomains   []string `json:"-"`

	// editor, json and file: size limit in bytes (0 = the type default).
	MaxSize     int64 `json:"-"`
	ConvertURLs bool  `json:"-"`

	// autodate.
	OnCreate bool `json:"-"`
	OnUpdate bool `json:"-"`

	// select, relation and file: how many values (<=1 = single).
	MaxSelect int      `json:"-"`
	Values    []string `json:"-"` // select
	MinSelect int      `json:"-"` // relation

	// relation.
	CollectionID  string `json:"-"`
	CascadeDelete bool   `json:"-"`

	// file.
	MimeTypes []string `json:"-"`
	Thumbs    []string `json:"-"`
	Protected bool     `json:"-"`

	// password.
	Cost int `json:"-"`
}

// Multiple reports whether the field holds a list of values (select,
// relation or file with MaxSelect > 1).
func (f *Field) Multiple() bool {
	switch f.Type {
	case FieldSelect, FieldRelation, FieldFile:
		return f.MaxSelect > 1
	}
	return false
}

// EffectiveMaxSize is MaxSize, or the type's default when it is 0.
func (f *Field) EffectiveMaxSize() int64 {
	if f.MaxSize > 0 {
		return f.MaxSize
	}
	switch f.Type {
	case FieldEditor:
		return DefaultEditorMaxSize
	case FieldFile:
		return DefaultFileMaxSize
	case FieldJSON:
		return DefaultJSONMaxSize
	}
	return 0
}

// DefaultFieldID is the id a field gets when none is given: its type and
// the CRC-32 of its name, as PocketBase does.
func DefaultFieldID(t FieldType, name string) string {
	return fmt.Sprintf("%s%d", t, crc32.ChecksumIEEE([]byte(name)))
}

// MarshalJSON writes the common keys and the options of the field's type.
func (f *Field) MarshalJSON() ([]byte, error) {
	m := map[string]any{
		"id":          f.ID,
		"name":        f.Name,
		"type":        f.Type,
		"system":      f.System,
		"hidden":      f.Hidden,
		"presentable": f.Presentable,
	}
	if f.Type != FieldAutodate {
		m["help"] = f.Help
	}
	switch f.Type {
	case FieldText:
		m["required"] = f.Required
		m["min"] = f.Min
		m["max"] = f.Max
		m["pattern"] = f.Pattern
		m["autogeneratePattern"] = f.AutogeneratePattern
		m["primaryKey"] = f.PrimaryKey
	case FieldPassword:
		m["required"] = f.Required
		m["min"] = f.Min
		m["max"] = f.Max
		m["pattern"] = f.Pattern
		m["cost"] = f.Cost
	case FieldEditor:
		m["required"] = f.Required
		m["maxSize"] = f.MaxSize
		m["convertURLs"] = f.ConvertURLs
	case FieldNumber:
		m["required"] = f.Required
		m["min"] = f.MinNumber
		m["max"] = f.MaxNumber
		m["onlyInt"] = f.OnlyInt
	case FieldBool, FieldGeoPoint:
		m["required"] = f.Required
	case FieldEmail, FieldURL:
		m["required"] = f.Required
		m["exceptDomains"] = nonNilStrings(f.ExceptDomains)
		m["onlyDomains"] = nonNilStrings(f.OnlyDomains)
	case FieldDate:
		m["required"] = f.Required
		m["min"] = f.MinDate
		m["max"] = f.MaxDate
	case FieldAutodate:
		m["onCreate"] = f.OnCreate
		m["onUpdate"] = f.OnUpdate
	case FieldSelect:
		m["required"] = f.Required
		m["values"] = nonNilStrings(f.Values)
		m["maxSelect"] = f.MaxSelect
	case FieldFile:
		m["required"] = f.Required
		m["maxSelect"] = f.MaxSelect
		m["maxSize"] = f.MaxSize
		m["mimeTypes"] = nonNilStrings(f.MimeTypes)
		m["thumbs"] = nonNilStrings(f.Thumbs)
		m["protected"] = f.Protected
	case FieldRelation:
		m["required"] = f.Required
		m["collectionId"] = f.CollectionID
		m["cascadeDelete"] = f.CascadeDelete
		m["minSelect"] = f.MinSelect
		m["maxSelect"] = f.MaxSelect
	case FieldJSON:
		m["required"] = f.Required
		m["maxSize"] = f.MaxSize
	default:
		m["required"] = f.Required
	}
	return json.Marshal(m)
}

// fieldJSON is the union of every type's keys; min and max are raw because
// their type depends on the field type.
type fieldJSON struct {
	ID                  string          `json:"id"`
	Name                string          `json:"name"`
	Type                FieldType       `json:"type"`
	System              bool            `json:"system"`
	Hidden              bool            `json:"hidden"`
	Presentable         bool            `json:"presentable"`
	Required            bool            `json:"required"`
	Help                string          `json:"help"`
	Min                 json.RawMessage `json:"min"`
	Max                 json.RawMessage `json:"max"`
	Pattern             string          `json:"pattern"`
	AutogeneratePattern string          `json:"autogeneratePattern"`
	PrimaryKey          bool            `json:"primaryKey"`
	OnlyInt             bool            `json:"onlyInt"`
	ExceptDomains       []string        `json:"exceptDomains"`
	OnlyDomains         []string        `json:"onlyDomains"`
	MaxSize             int64           `json:"maxSize"`
	ConvertURLs         bool            `json:"convertURLs"`
	OnCreate            bool            `json:"onCreate"`
	OnUpdate            bool            `json:"onUpdate"`
	MaxSelect           int             `json:"maxSelect"`
	Values              []string        `json:"values"`
	MinSelect           int             `json:"minSelect"`
	CollectionID        string          `json:"collectionId"`
	CascadeDelete       bool            `json:"cascadeDelete"`
	MimeTypes           []string        `json:"mimeTypes"`
	Thumbs              []string        `json:"thumbs"`
	Protected           bool            `json:"protected"`
	Cost                int             `json:"cost"`
}

// FieldOptionError reports a field option of the wrong JSON type, e.g. a
// text field whose min is not a number.
type FieldOptionError struct {
	Option string
	Err    error
}

func (e *FieldOptionError) Error() string { return e.Option + ": " + e.Err.Error() }
func (e *FieldOptionError) Unwrap() error { return e.Err }

// UnmarshalJSON reads a field model; min and max are read according to the
// field type (integers for text/password, numbers or null for number,
// datetime strings for date).
func (f *Field) UnmarshalJSON(b []byte) error {
	var j fieldJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = Field{
		ID: j.ID, Name: j.Name, Type: j.Type, System: j.System, Hidden: j.Hidden,
		Presentable: j.Presentable, Required: j.Required, Help: j.Help,
		Pattern: j.Pattern, AutogeneratePattern: j.AutogeneratePattern, PrimaryKey: j.PrimaryKey,
		OnlyInt: j.OnlyInt, ExceptDomains: j.ExceptDomains, OnlyDomains: j.OnlyDomains,
		MaxSize: j.MaxSize, ConvertURLs: j.ConvertURLs, OnCreate: j.OnCreate, OnUpdate: j.OnUpdate,
		MaxSelect: j.MaxSelect, Values: j.Values, MinSelect: j.MinSelect,
		CollectionID: j.CollectionID, CascadeDelete: j.CascadeDelete,
		MimeTypes: j.MimeTypes, Thumbs: j.Thumbs, Protected: j.Protected, Cost: j.Cost,
	}
	isNull := func(r json.RawMessage) bool { return len(r) == 0 || string(r) == "null" }
	switch j.Type {
	case FieldNumber:
		if !isNull(j.Min) {
			var v float64
			if err := json.Unmarshal(j.Min, &v); err != nil {
				return &FieldOptionError{"min", err}
			}
			f.MinNumber = &v
		}
		if !isNull(j.Max) {
			var v float64
			if err := json.Unmarshal(j.Max, &v); err != nil {
				return &FieldOptionError{"max", err}
			}
			f.MaxNumber = &v
		}
	case FieldDate:
		if !isNull(j.Min) {
			if err := json.Unmarshal(j.Min, &f.MinDate); err != nil {
				return &FieldOptionError{"min", err}
			}
		}
		if !isNull(j.Max) {
			if err := json.Unmarshal(j.Max, &f.MaxDate); err != nil {
				return &FieldOptionError{"max", err}
			}
		}
	default:
		if !isNull(j.Min) {
			if err := json.Unmarshal(j.Min, &f.Min); err != nil {
				return &FieldOptionError{"min", err}
			}
		}
		if !isNull(j.Max) {
			if err := json.Unmarshal(j.Max, &f.Max); err != nil {
				return &FieldOptionError{"max", err}
			}
		}
	}
	return nil
}
