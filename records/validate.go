package records

import (
	"context"
	"slices"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/store"
)

// validate checks every field of rec (old is the stored record on update,
// nil on create) and returns field errors keyed by field name; empty when
// valid. Relation ids must exist; a file name must already be on the
// record or name one of ups, the uploads of this write, which must fit the
// field's maxSize and mimeTypes.
func (s *Service) validate(ctx context.Context, q store.Querier, rec *Record, old *Record, ups map[string]*upload) map[string]any {
	errs := map[string]any{}
	for _, f := range rec.Collection.Fields {
		if f.Type == base.FieldAutodate {
			continue
		}
		v := rec.Get(f.Name)
		if fe := Validate(f, v); fe != nil {
			errs[f.Name] = fe
			continue
		}
		switch f.Type {
		case base.FieldRelation:
			if old != nil && slices.Equal(relationIDs(v), relationIDs(old.Get(f.Name))) {
				continue // unchanged: its ids were checked when they were set
			}
			if fe := s.checkRelations(ctx, q, f, relationIDs(v)); fe != nil {
				errs[f.Name] = fe
			}
		case base.FieldFile:
			var have []string
			if old != nil {
				have = relationIDs(old.Get(f.Name))
			}
			for _, name := range relationIDs(v) {
				if slices.Contains(have, name) {
					continue
				}
				if up, ok := ups[name]; ok && up.field == f {
					if fe := checkUpload(up); fe != nil {
						errs[f.Name] = fe
						break
					}
					continue
				}
				errs[f.Name] = base.NewFieldError("validation_invalid_file", "Invalid or missing file "+name+".", nil)
				break
			}
		}
	}
	return errs
}

// checkRelations verifies that every id exists in f's target collection.
func (s *Service) checkRelations(ctx context.Context, q store.Querier, f *base.Field, ids []string) *base.FieldError {
	if len(ids) == 0 {
		return nil
	}
	missing := base.NewFieldError("validation_missing_rel_records", "Failed to find all relation records with the provided ids.", nil)
	target := s.Schema.Collection(f.CollectionID)
	if target == nil {
		return missing
	}
	d := s.Dialect
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	var n int
	query := "SELECT COUNT(*) FROM " + d.Quote(target.Name) + " WHERE " + d.Quote("id") + " IN (" + placeholders(len(ids)) + ")"
	if err := q.QueryRowContext(ctx, query, args...).Scan(&n); err != nil || n != len(slices.Compact(slices.Sorted(slices.Values(ids)))) {
		return missing
	}
	return nil
}
