package rules

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/filter"
)

// A plan is a resolved identifier path: the rows to walk (steps) and the
// value to read from the last one (fin). It is planned once from the schema
// and materialized into SQL as often as needed (shared joins, the
// independent all-values check, scalar subqueries).
type plan struct {
	steps []step
	fin   final
}

type stepKind int

const (
	stepTable stepKind = iota // a collection's table
	stepEach                  // the elements of a JSON array
)

type linkKind int

const (
	linkNone    linkKind = iota // every row (@collection)
	linkIDCol                   // table.id = prev.<field>
	linkIDValue                 // table.id = prev JSON element
	linkIDBound                 // table.id = bound value
	linkBack                    // table.<field> references prev.id
)

type step struct {
	// key identifies the step within one expression; steps with equal keys
	// share one join in the shared scope.
	key   string
	kind  stepKind
	coll  *base.Collection // stepTable
	link  linkKind         // stepTable
	field *base.Field      // linkIDCol, linkBack, stepEach over a column
	bound *SQL             // linkIDBound id, or stepEach over a bound array
	multi bool
}

type finalKind int

const (
	finColumn finalKind = iota // prev.<field>
	finLength                  // number of elements of prev.<field>
	finValue                   // the element of the last stepEach
	finJSON                    // a JSON path inside prev.<field>
)

type final struct {
	kind  finalKind
	field *base.Field
	path  []string
	lower bool
	// guard: compare only rows whose emailVisibility is true.
	guard bool
}

func (p *plan) multi() bool {
	for _, s := range p.steps {
		if s.multi {
			return true
		}
	}
	return false
}

// planFields walks segs (field names) starting at collection cur, appending
// to p. key is the join key of the row the walk starts from.
func (w *where) planFields(p *plan, key string, cur *base.Collection, segs []string, mod filter.Modifier) error {
	hops := 0
	for i := 0; i < len(segs); i++ {
		seg := segs[i]
		last := i == len(segs)-1
		key += "." + seg
		f := cur.Field(seg)
		if f == nil {
			bc, bf, err := w.backRelation(cur, seg)
			if err != nil {
				return err
			}
			if last {
				return fmt.Errorf("back-relation %q must be followed by a field", seg)
			}
			if hops++; hops > filter.MaxRelationHops {
				return fmt.Errorf("too many nested relations (max %d)", filter.MaxRelationHops)
			}
			multi := bf.Multiple() || !hasUniqueIndex(bc, bf.Name)
			p.steps = append(p.steps, step{key: key, kind: stepTable, coll: bc, link: linkBack, field: bf, multi: multi})
			cur = bc
			continue
		}
		if f.Hidden && !w.allowHidden {
			return fmt.Errorf("field %q is not filterable", seg)
		}
		if last {
			return w.planLast(p, key, cur, f, mod)
		}
		switch f.Type {
		case base.FieldRelation:
			target := w.st.c.Schema.Collection(f.CollectionID)
			if target == nil {
				return fmt.Errorf("relation field %q points to a missing collection", seg)
			}
			if hops++; hops > filter.MaxRelationHops {
				return fmt.Errorf("too many nested relations (max %d)", filter.MaxRelationHops)
			}
			// rel.id is rel (no join) when no rule must be applied to the
			// related rows.
			if i+1 == len(segs)-1 && segs[i+1] == "id" && !w.enforce && (mod == filter.ModNone || mod == filter.ModLower) {
				if !f.Multiple() {
					return w.planLast(p, key, cur, f, mod)
				}
				p.steps = append(p.steps, step{key: key + "#each", kind: stepEach, field: f, multi: true})
				p.fin = final{kind: finValue, lower: mod == filter.ModLower}
				return nil
			}
			if f.Multiple() {
				p.steps = append(p.steps,
					step{key: key + "#each", kind: stepEach, field: f, multi: true},
					step{key: key, kind: stepTable, coll: target, link: linkIDValue})
			} else {
				p.steps = append(p.steps, step{key: key, kind: stepTable, coll: target, link: linkIDCol, field: f})
			}
			cur = target
		case base.FieldJSON, base.FieldGeoPoint:
			if mod != filter.ModNone && mod != filter.ModLower {
				return fmt.Errorf("modifier :%s is not supported on JSON paths", mod)
			}
			p.fin = final{kind: finJSON, field: f, path: segs[i+1:], lower: mod == filter.ModLower}
			return nil
		default:
			return fmt.Errorf("field %q is not a relation", seg)
		}
	}
	return errors.New("empty field path")
}

// planLast sets the value read from field f of the current row.
func (w *where) planLast(p *plan, key string, cur *base.Collection, f *base.Field, mod filter.Modifier) error {
	arrayish := f.Type == base.FieldSelect || f.Type == base.FieldRelation || f.Type == base.FieldFile || f.Type == base.FieldJSON
	switch mod {
	case filter.ModNone, filter.ModLower:
		p.fin = final{kind: finColumn, field: f, lower: mod == filter.ModLower}
		if f.Type == base.FieldJSON {
			p.fin = final{kind: finJSON, field: f, lower: mod == filter.ModLower}
		}
	case filter.ModLength:
		if !arrayish {
			return fmt.Errorf("modifier :length is not supported on field %q", f.Name)
		}
		p.fin = final{kind: finLength, field: f}
	case filter.ModEach:
		if !arrayish {
			return fmt.Errorf("modifier :each is not supported on field %q", f.Name)
		}
		if !f.Multiple() && f.Type != base.FieldJSON {
			p.fin = final{kind: finColumn, field: f}
			return nil
		}
		p.steps = append(p.steps, step{key: key + "#each", kind: stepEach, field: f, multi: true})
		p.fin = final{kind: finValue}
	default:
		return fmt.Errorf("modifier :%s is only allowed on @request fields", mod)
	}
	if f.Name == "email" && cur.IsAuth() && !w.allowHidden && cur.Field("emailVisibility") != nil {
		p.fin.guard = true
	}
	return nil
}

var viaRe = regexp.MustCompile(`^(\w+)_via_(\w+)$`)

// backRelation resolves `coll_via_field` from the current collection cur:
// the relation field of coll that points to cur.
func (w *where) backRelation(cur *base.Collection, seg string) (*base.Collection, *base.Field, error) {
	m := viaRe.FindStringSubmatch(seg)
	if m == nil {
		return nil, nil, fmt.Errorf("unknown field %q", seg)
	}
	bc := w.st.c.Schema.Collection(m[1])
	if bc == nil {
		return nil, nil, fmt.Errorf("unknown collection %q in back-relation %q", m[1], seg)
	}
	bf := bc.Field(m[2])
	if bf == nil || bf.Type != base.FieldRelation {
		return nil, nil, fmt.Errorf("invalid back-relation field %q", seg)
	}
	if bf.CollectionID != cur.ID && bf.CollectionID != cur.Name {
		return nil, nil, fmt.Errorf("back-relation field %q does not point to %q", seg, cur.Name)
	}
	if bf.Hidden && !w.allowHidden {
		return nil, nil, fmt.Errorf("field %q is not filterable", seg)
	}
	return bc, bf, nil
}

// hasUniqueIndex reports whether coll has a unique index on exactly column.
func hasUniqueIndex(coll *base.Collection, column string) bool {
	for _, idx := range coll.Indexes {
		if !strings.Contains(strings.ToUpper(idx), "UNIQUE") {
			continue
		}
		open, end := strings.Index(idx, "("), strings.LastIndex(idx, ")")
		if open < 0 || end < open {
			continue
		}
		cols := strings.Split(idx[open+1:end], ",")
		if len(cols) != 1 {
			continue
		}
		c := strings.Fields(strings.TrimSpace(cols[0]))
		if len(c) == 0 {
			continue
		}
		if strings.Trim(c[0], "`\"[]'") == column {
			return true
		}
	}
	return false
}

// maxJoins bounds the joins of one scope, below SQLite's limit of 64 tables
// per join.
const maxJoins = 60

// scope collects the LEFT JOINs of multi-valued paths: the shared scope of
// one expression, or the private scope of one all-values check.
type scope struct {
	items []joinItem
	keys  map[string]rowRef
}

type joinItem struct {
	source SQL
	on     SQL
}

func newScope() *scope { return &scope{keys: map[string]rowRef{}} }

// render is the FROM clause of the scope: a one-row seed LEFT JOINed with
// every item, so a path without rows still yields one row of NULLs.
func (sc *scope) render(st *state) SQL {
	parts := []any{"(SELECT 1) AS " + st.d.Quote(st.alias("d"))}
	for _, it := range sc.items {
		parts = append(parts, " LEFT JOIN ", it.source, " ON ", it.on)
	}
	return Cat(parts...)
}

// rowRef is the row a step produced: a table row (alias) or a JSON element
// (value is its SQL).
type rowRef struct {
	alias string
	value string // stepEach only
}

func (w *where) col(r rowRef, f *base.Field) SQL {
	return Raw(w.st.d.Quote(r.alias) + "." + w.st.d.Quote(f.Name))
}

// emit materializes one step after row prev: the join source, its
// condition and the new row.
func (w *where) emit(s step, prev rowRef) (joinItem, rowRef, error) {
	d := w.st.d
	if s.kind == stepEach {
		a := w.st.alias("e")
		var arr SQL
		if s.bound != nil {
			arr = *s.bound
		} else {
			arr = w.col(prev, s.field)
		}
		src, val := d.JSONEach(arr, a)
		return joinItem{source: src, on: Raw("1=1")}, rowRef{alias: a, value: val}, nil
	}
	a := w.st.alias("r")
	qa := d.Quote(a)
	id := Raw(qa + "." + d.Quote("id"))
	var on SQL
	switch s.link {
	case linkNone:
		on = Raw("1=1")
	case linkIDCol:
		on = Cat(id, " = ", w.col(prev, s.field))
	case linkIDValue:
		on = Cat(id, " = ", prev.value)
	case linkIDBound:
		on = Cat(id, " = ", *s.bound)
	case linkBack:
		fk := Raw(qa + "." + d.Quote(s.field.Name))
		pid := Raw(d.Quote(prev.alias) + "." + d.Quote("id"))
		if s.field.Multiple() {
			on = d.JSONArrayContains(fk, pid, w.st.alias("c"))
		} else {
			on = Cat(fk, " = ", pid)
		}
	}
	if w.enforce {
		rule, err := w.relatedRule(s.coll, a)
		if err != nil {
			return joinItem{}, rowRef{}, err
		}
		if rule != nil {
			on = Cat(on, " AND ", *rule)
		}
	}
	return joinItem{source: Raw(d.Quote(s.coll.Name) + " AS " + qa), on: on}, rowRef{alias: a}, nil
}

// relatedRule is the listRule of a joined collection for a non-superuser
// filter: an error when locked, nil when open, else its SQL for rows
// aliased alias.
func (w *where) relatedRule(coll *base.Collection, alias string) (*SQL, error) {
	if coll.ListRule == nil {
		return nil, fmt.Errorf("only superusers can filter by the collection %q", coll.Name)
	}
	if strings.TrimSpace(*coll.ListRule) == "" {
		return nil, nil
	}
	if w.st.rules == nil {
		w.st.rules = map[string]filter.Expr{}
	}
	e, ok := w.st.rules[coll.Name]
	if !ok {
		var err error
		if e, err = filter.Parse(*coll.ListRule); err != nil {
			return nil, fmt.Errorf("list rule of %q: %w", coll.Name, err)
		}
		w.st.rules[coll.Name] = e
	}
	s, err := w.st.where(coll, alias, e, Options{AllowHidden: true})
	if err != nil {
		return nil, fmt.Errorf("list rule of %q: %w", coll.Name, err)
	}
	s = Cat("(", s, ")")
	return &s, nil
}

// finalValue is the value of p.fin read from row r.
func (w *where) finalValue(p *plan, r rowRef) SQL {
	d := w.st.d
	var v SQL
	switch p.fin.kind {
	case finColumn:
		v = w.col(r, p.fin.field)
		if jsonStored(p.fin.field) {
			v = d.Text(v)
		}
	case finLength:
		v = d.JSONArrayLength(w.col(r, p.fin.field))
	case finValue:
		v = Raw(r.value)
	case finJSON:
		v = d.JSONExtract(w.col(r, p.fin.field), p.fin.path)
	}
	if p.fin.lower {
		v = d.Lower(v)
	}
	return v
}

// jsonStored reports whether f's column is JSON-typed on PostgreSQL
// (store.FieldStorage: a list, json or geoPoint column).
func jsonStored(f *base.Field) bool {
	switch f.Type {
	case base.FieldSelect, base.FieldRelation, base.FieldFile:
		return f.Multiple()
	case base.FieldJSON, base.FieldGeoPoint:
		return true
	}
	return false
}

func (w *where) guardValue(r rowRef) SQL {
	return Raw(w.st.d.Quote(r.alias) + "." + w.st.d.Quote("emailVisibility") + " = TRUE")
}

// materialize turns a plan into its value (and email guard). Multi-valued
// plans join into sc; single-valued plans with steps become scalar
// subqueries; plans without steps read the outer row directly.
func (w *where) materialize(p *plan, sc *scope) (SQL, *SQL, error) {
	outer := rowRef{alias: w.alias}
	if !p.multi() {
		if len(p.steps) == 0 {
			v := w.finalValue(p, outer)
			var g *SQL
			if p.fin.guard {
				gv := w.guardValue(outer)
				g = &gv
			}
			return v, g, nil
		}
		items := make([]joinItem, 0, len(p.steps))
		prev := outer
		for _, s := range p.steps {
			it, r, err := w.emit(s, prev)
			if err != nil {
				return SQL{}, nil, err
			}
			items = append(items, it)
			prev = r
		}
		from := []any{" FROM ", items[0].source}
		for _, it := range items[1:] {
			from = append(from, " JOIN ", it.source, " ON ", it.on)
		}
		from = append(from, " WHERE ", items[0].on, ")")
		v := Cat(append([]any{"(SELECT ", w.finalValue(p, prev)}, from...)...)
		var g *SQL
		if p.fin.guard {
			gv := Cat(append([]any{"(SELECT ", w.guardValue(prev)}, from...)...)
			g = &gv
		}
		return v, g, nil
	}
	if sc == nil {
		return SQL{}, nil, errors.New("multi-valued fields cannot be used for sorting")
	}
	prev := outer
	for _, s := range p.steps {
		if r, ok := sc.keys[s.key]; ok {
			prev = r
			continue
		}
		if len(sc.items) >= maxJoins {
			return SQL{}, nil, fmt.Errorf("too many multi-valued paths in one expression (max %d joins)", maxJoins)
		}
		it, r, err := w.emit(s, prev)
		if err != nil {
			return SQL{}, nil, err
		}
		sc.items = append(sc.items, it)
		sc.keys[s.key] = r
		prev = r
	}
	var g *SQL
	if p.fin.guard {
		gv := w.guardValue(prev)
		g = &gv
	}
	return w.finalValue(p, prev), g, nil
}

// fromPlan materializes p as an operand.
func (w *where) fromPlan(p *plan, sc *scope) (operand, error) {
	v, g, err := w.materialize(p, sc)
	if err != nil {
		return operand{}, err
	}
	return operand{sql: v, kind: kindExpr, multi: p.multi(), guard: g, noCoalesce: p.fin.kind == finJSON}, nil
}
