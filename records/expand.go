package records

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/filter"
	"github.com/hanzoai/base/rules"
	"github.com/hanzoai/base/store"
)

// Expansion limits of the wire protocol.
const (
	maxExpandDepth   = 6
	maxBackRelations = 1000
	idChunk          = 500
	backRelChunk     = 100
)

// expandTree is a parsed expand parameter: segment → nested segments.
type expandTree map[string]expandTree

// parseExpand parses "a,a.b,c" into a tree; spaces are removed, paths are
// cut at maxExpandDepth, overlapping paths merge.
func parseExpand(s string) expandTree {
	t := expandTree{}
	for _, p := range strings.Split(strings.ReplaceAll(s, " ", ""), ",") {
		if p == "" {
			continue
		}
		node := t
		for i, seg := range strings.Split(p, ".") {
			if seg == "" || i >= maxExpandDepth {
				break
			}
			next, ok := node[seg]
			if !ok {
				next = expandTree{}
				node[seg] = next
			}
			node = next
		}
	}
	return t
}

// Expand resolves the expand parameter on recs (all of one collection).
// Every record gets a non-nil Expand map; paths that are unknown, or that
// reach a collection req may not view, are silently skipped.
func (s *Service) Expand(ctx context.Context, q store.Querier, recs []*Record, expand string, req *Request) error {
	for _, r := range recs {
		if r.Expand == nil {
			r.Expand = map[string]any{}
		}
	}
	if len(recs) == 0 {
		return nil
	}
	ereq := *req
	ereq.Context = "expand"
	return s.expand(ctx, q, recs, parseExpand(expand), &ereq)
}

func (s *Service) expand(ctx context.Context, q store.Querier, recs []*Record, tree expandTree, req *Request) error {
	if len(recs) == 0 {
		return nil
	}
	c := recs[0].Collection
	for seg, sub := range tree {
		var related []*Record
		var err error
		if f := c.Field(seg); f != nil && f.Type == base.FieldRelation {
			related, err = s.expandForward(ctx, q, recs, seg, f, req)
		} else if i := strings.LastIndex(seg, "_via_"); i > 0 {
			related, err = s.expandBack(ctx, q, recs, seg, seg[:i], seg[i+len("_via_"):], req)
		} else {
			continue
		}
		if err != nil {
			return err
		}
		if len(sub) > 0 && len(related) > 0 {
			for _, r := range related {
				if r.Expand == nil {
					r.Expand = map[string]any{}
				}
			}
			if err := s.expand(ctx, q, related, sub, req); err != nil {
				return err
			}
		}
	}
	return nil
}

// viewCondition returns the view-rule condition for expanding into c, or
// ok=false when req may not view c at all.
func (s *Service) viewCondition(c *base.Collection, req *Request) (cond string, args []any, ok bool, err error) {
	if req.Superuser() {
		return "", nil, true, nil
	}
	if c.ViewRule == nil {
		return "", nil, false, nil
	}
	if strings.TrimSpace(*c.ViewRule) == "" {
		return "", nil, true, nil
	}
	cond, args, err = s.ruleCondition(c, c.Name, *c.ViewRule, req, nil)
	return cond, args, err == nil, err
}

func (s *Service) expandForward(ctx context.Context, q store.Querier, recs []*Record, seg string, f *base.Field, req *Request) ([]*Record, error) {
	target := s.Schema.Collection(f.CollectionID)
	if target == nil {
		return nil, nil
	}
	cond, cargs, ok, err := s.viewCondition(target, req)
	if err != nil || !ok {
		return nil, err
	}
	seen := map[string]bool{}
	var ids []string
	for _, r := range recs {
		for _, id := range relationIDs(r.Get(f.Name)) {
			if !seen[id] {
				seen[id] = true
				ids = append(ids, id)
			}
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	byID := make(map[string]*Record, len(ids))
	var all []*Record
	for start := 0; start < len(ids); start += idChunk {
		chunk := ids[start:min(start+idChunk, len(ids))]
		in := make([]any, len(chunk))
		for i, id := range chunk {
			in[i] = id
		}
		got, err := s.selectByID(ctx, q, target, cond, "expand "+seg,
			[]sqlPart{{s.idColumn(target) + " IN (" + placeholders(len(chunk)) + ")", in}, {cond, cargs}}, "")
		if err != nil {
			return nil, err
		}
		for _, r := range got {
			byID[r.ID()] = r
			all = append(all, r)
		}
	}
	for _, r := range recs {
		if f.Multiple() {
			var list []*Record
			for _, id := range relationIDs(r.Get(f.Name)) {
				if rel := byID[id]; rel != nil {
					list = append(list, rel)
				}
			}
			if len(list) > 0 {
				r.Expand[seg] = list
			}
		} else if id, _ := r.Get(f.Name).(string); id != "" {
			if rel := byID[id]; rel != nil {
				r.Expand[seg] = rel
			}
		}
	}
	return all, nil
}

func (s *Service) expandBack(ctx context.Context, q store.Querier, recs []*Record, seg, otherName, fieldName string, req *Request) ([]*Record, error) {
	c := recs[0].Collection
	other := s.Schema.Collection(otherName)
	if other == nil || other.IsView() {
		return nil, nil
	}
	f := other.Field(fieldName)
	if f == nil || f.Type != base.FieldRelation || f.CollectionID != c.ID {
		return nil, nil
	}
	cond, cargs, ok, err := s.viewCondition(other, req)
	if err != nil || !ok {
		return nil, err
	}
	single := hasUniqueIndex(other, f.Name)
	byParent := map[string][]*Record{}
	var all []*Record
	for start := 0; start < len(recs); start += backRelChunk {
		chunk := recs[start:min(start+backRelChunk, len(recs))]
		var terms []string
		path := f.Name
		if f.Multiple() {
			path += ":each"
		}
		for _, r := range chunk {
			if id := r.ID(); safeFilterText(id) {
				terms = append(terms, path+` ?= "`+id+`"`)
			}
		}
		if len(terms) == 0 {
			continue
		}
		expr, err := filter.Parse(strings.Join(terms, " || "))
		if err != nil {
			return nil, fmt.Errorf("expand %s: %w", seg, err)
		}
		w, wargs, err := s.Compiler.Where(other, other.Name, expr, s.rulesRequest(req, nil), rules.Options{AllowHidden: true, Superuser: true})
		if err != nil {
			return nil, fmt.Errorf("expand %s: %w", seg, err)
		}
		got, err := s.selectRecords(ctx, q, other, "expand "+seg, []sqlPart{{w, wargs}, {cond, cargs}}, "")
		if err != nil {
			return nil, err
		}
		for _, rel := range got {
			all = append(all, rel)
			for _, pid := range relationIDs(rel.Get(f.Name)) {
				if len(byParent[pid]) < maxBackRelations {
					byParent[pid] = append(byParent[pid], rel)
				}
			}
		}
	}
	for _, r := range recs {
		list := byParent[r.ID()]
		if len(list) == 0 {
			continue
		}
		if single {
			r.Expand[seg] = list[0]
		} else {
			r.Expand[seg] = list
		}
	}
	return all, nil
}

// relationIDs returns the ids held by a relation value (string or []string).
func relationIDs(v any) []string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
		return []string{x}
	case []string:
		return x
	}
	return nil
}

// safeFilterText reports whether s can be embedded in a double-quoted filter
// text literal without escaping.
func safeFilterText(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r == '"' || r == '\\' || r < 0x20 {
			return false
		}
	}
	return true
}

var uniqueIndexRe = regexp.MustCompile("(?is)^\\s*CREATE\\s+UNIQUE\\s+INDEX\\s+.*?\\bON\\s+[`\"\\[]?\\w+[`\"\\]]?\\s*\\(\\s*[`\"\\[]?(\\w+)[`\"\\]]?\\s*\\)\\s*$")

// hasUniqueIndex reports whether c has a single-column unique index on
// field (without a WHERE clause).
func hasUniqueIndex(c *base.Collection, field string) bool {
	for _, idx := range c.Indexes {
		if m := uniqueIndexRe.FindStringSubmatch(idx); m != nil && strings.EqualFold(m[1], field) {
			return true
		}
	}
	return false
}

// placeholders returns "?, ?, ..." with n marks.
func placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}
