package records

import (
	"context"
	"fmt"
	"strings"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/rules"
	"github.com/hanzoai/base/store"
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

// CurrentSchema returns q's schema: cached when q's schema version is
// still cached.Version (cached may be nil), else its collections loaded
// anew. The version is read every time, so a schema or rule change made
// through any instance is seen by the next call.
func CurrentSchema(ctx context.Context, q store.Querier, cached *Schema) (*Schema, error) {
	v, err := store.SchemaVersion(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("schema version: %w", err)
	}
	if cached != nil && cached.Version == v {
		return cached, nil
	}
	cols, err := store.LoadCollections(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("load collections: %w", err)
	}
	return NewSchema(v, cols), nil
}

// RulesDialect is the filter/rule SQL dialect of a store dialect.
func RulesDialect(d store.Dialect) (rules.Dialect, error) {
	switch d.Name() {
	case "sqlite":
		return rules.SQLite, nil
	case "postgres":
		return rules.Postgres, nil
	}
	return nil, fmt.Errorf("no rules dialect for store dialect %q", d.Name())
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
