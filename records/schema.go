package records

import (
	"strings"

	"github.com/hanzoai/base"
)

// Schema is an immutable snapshot of one org's collections at a schema
// version. It satisfies rules.Schema.
type Schema struct {
	Version     int64
	Collections []*base.Collection

	byName map[string]*base.Collection // lower-cased name
	byID   map[string]*base.Collection
}

// NewSchema indexes cols. The snapshot must not be mutated afterwards.
func NewSchema(version int64, cols []*base.Collection) *Schema {
	s := &Schema{
		Version:     version,
		Collections: cols,
		byName:      make(map[string]*base.Collection, len(cols)),
		byID:        make(map[string]*base.Collection, len(cols)),
	}
	for _, c := range cols {
		s.byName[strings.ToLower(c.Name)] = c
		s.byID[c.ID] = c
	}
	return s
}

// Collection returns the collection with the given id or (case-insensitive)
// name, or nil.
func (s *Schema) Collection(nameOrID string) *base.Collection {
	if c := s.byID[nameOrID]; c != nil {
		return c
	}
	return s.byName[strings.ToLower(nameOrID)]
}

// Referencing returns every (collection, field) pair whose relation field
// points at the collection with id target.
func (s *Schema) Referencing(target string) []FieldRef {
	var out []FieldRef
	for _, c := range s.Collections {
		if c.IsView() {
			continue
		}
		for _, f := range c.Fields {
			if f.Type == base.FieldRelation && f.CollectionID == target {
				out = append(out, FieldRef{Collection: c, Field: f})
			}
		}
	}
	return out
}

// FieldRef names one field of one collection.
type FieldRef struct {
	Collection *base.Collection
	Field      *base.Field
}
