package rules

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/hanzoai/base"
	"github.com/hanzoai/base/filter"
)

// resolve resolves an operand. Multi-valued paths join into sc; a nil sc
// (sorting) only accepts single-valued operands.
func (w *where) resolve(o filter.Operand, sc *scope) (operand, error) {
	switch o := o.(type) {
	case *filter.Text:
		return paramOperand(o.Value), nil
	case *filter.Number:
		return paramOperand(numberValue(o)), nil
	case *filter.Func:
		return w.function(o, sc)
	case *filter.Identifier:
		return w.identifier(o, sc)
	}
	return operand{}, fmt.Errorf("unsupported operand %T", o)
}

func numberValue(n *filter.Number) any {
	if !strings.Contains(n.Raw, ".") && n.Value == math.Trunc(n.Value) && math.Abs(n.Value) < 1<<53 {
		return int64(n.Value)
	}
	return n.Value
}

func (w *where) identifier(id *filter.Identifier, sc *scope) (operand, error) {
	switch {
	case id.IsMacro():
		return paramOperand(w.st.macro(id.Path[0])), nil
	case id.IsRequest():
		return w.request(id, sc)
	case id.IsCollection():
		c := w.st.c.Schema.Collection(id.Path[1])
		if c == nil {
			return operand{}, fmt.Errorf("unknown collection %q", id.Path[1])
		}
		key := "@collection." + c.Name + ":" + id.Alias
		p := &plan{steps: []step{{key: key, kind: stepTable, coll: c, link: linkNone, multi: true}}}
		if err := w.systemPath(func() error { return w.planFields(p, key, c, id.Path[2:], id.Modifier) }); err != nil {
			return operand{}, err
		}
		return w.fromPlan(p, sc)
	}
	if len(id.Path) == 1 && w.coll.Field(id.Path[0]) == nil {
		switch id.Path[0] {
		case "true", "false", "null":
			if id.Modifier != filter.ModNone {
				return operand{}, fmt.Errorf("invalid modifier on literal %q", id.Path[0])
			}
			if id.Path[0] == "null" {
				return nullOperand(), nil
			}
			return paramOperand(w.st.d.Bool(id.Path[0] == "true")), nil
		}
	}
	p := &plan{}
	if err := w.planFields(p, "", w.coll, id.Path, id.Modifier); err != nil {
		return operand{}, err
	}
	return w.fromPlan(p, sc)
}

// request resolves @request.*. Request values are known at compile time and
// become bound parameters; missing keys are NULL.
func (w *where) request(id *filter.Identifier, sc *scope) (operand, error) {
	req := w.st.req
	switch id.Path[1] {
	case filter.ReqContext:
		ctx := req.Context
		if ctx == "" {
			ctx = "default"
		}
		return w.value(id, ctx, true, false, sc)
	case filter.ReqMethod:
		return w.value(id, req.Method, true, false, sc)
	case filter.ReqHeaders, filter.ReqQuery:
		m := req.Headers
		if id.Path[1] == filter.ReqQuery {
			m = req.Query
		}
		v, ok := m[strings.Join(id.Path[2:], ".")]
		if !ok {
			return w.value(id, nil, false, false, sc)
		}
		return w.value(id, v, true, false, sc)
	case filter.ReqBody:
		return w.body(id, sc)
	case filter.ReqAuth:
		return w.auth(id, sc)
	}
	return operand{}, fmt.Errorf("unknown request field %q", id.Raw)
}

func (w *where) body(id *filter.Identifier, sc *scope) (operand, error) {
	name := id.Path[2]
	raw, exists := w.st.req.Body[name]
	f := w.coll.Field(name)
	if f != nil {
		raw = castBody(f, raw)
	}
	if id.Modifier == filter.ModChanged {
		if f == nil || len(id.Path) != 3 {
			return operand{}, fmt.Errorf("modifier :changed needs a field of %q (%q)", w.coll.Name, id.Raw)
		}
		if !exists {
			return paramOperand(w.st.d.Bool(false)), nil
		}
		bodyVal := paramOperand(w.st.norm(raw))
		stored, err := w.fromPlan(&plan{fin: final{kind: finColumn, field: f}}, sc)
		if err != nil {
			return operand{}, err
		}
		if f.Type == base.FieldJSON {
			stored.sql = w.st.d.Coalesce(stored.sql)
		}
		return operand{sql: Cat("(", equal(w.st.d, false, bodyVal, stored), ")"), kind: kindExpr}, nil
	}
	if len(id.Path) > 3 && f != nil && f.Type == base.FieldRelation {
		ids := toStrings(raw)
		if len(ids) == 0 {
			return w.value(id, nil, false, false, sc)
		}
		target := w.st.c.Schema.Collection(f.CollectionID)
		if target == nil {
			return operand{}, fmt.Errorf("relation field %q points to a missing collection", name)
		}
		key := "@request.body." + name
		p := &plan{}
		if f.Multiple() {
			arr := Param(jsonText(ids))
			p.steps = append(p.steps,
				step{key: key + "#each", kind: stepEach, bound: &arr, multi: true},
				step{key: key, kind: stepTable, coll: target, link: linkIDValue})
		} else {
			first := Param(ids[0])
			p.steps = append(p.steps, step{key: key, kind: stepTable, coll: target, link: linkIDBound, bound: &first})
		}
		if err := w.systemPath(func() error { return w.planFields(p, key, target, id.Path[3:], id.Modifier) }); err != nil {
			if strings.HasPrefix(err.Error(), "unknown field") {
				return w.value(id, nil, false, false, sc)
			}
			return operand{}, err
		}
		return w.fromPlan(p, sc)
	}
	v, ok := walkValue(raw, id.Path[3:])
	return w.value(id, v, exists && ok, false, sc)
}

// castBody converts multipart strings of number and bool fields.
func castBody(f *base.Field, v any) any {
	s, ok := v.(string)
	if !ok {
		return v
	}
	switch f.Type {
	case base.FieldNumber:
		if n, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			return n
		}
		if strings.TrimSpace(s) == "" {
			return float64(0)
		}
	case base.FieldBool:
		if b, err := strconv.ParseBool(s); err == nil {
			return b
		}
	}
	return v
}

func (w *where) auth(id *filter.Identifier, sc *scope) (operand, error) {
	a := w.st.req.Auth
	if a == nil {
		if id.Modifier == filter.ModIsset {
			return paramOperand(w.st.d.Bool(false)), nil
		}
		return nullOperand(), nil
	}
	rest := id.Path[2:]
	if len(rest) == 1 {
		switch rest[0] {
		case "id":
			return w.value(id, a.ID, true, false, sc)
		case "collectionId":
			return w.value(id, a.CollectionID, true, false, sc)
		case "collectionName":
			return w.value(id, a.CollectionName, true, false, sc)
		}
	}
	if v, ok := walkValue(any(a.Claims), rest); ok {
		return w.value(id, v, true, true, sc)
	}
	// Not a claim: a field of the caller's auth record.
	coll := w.st.c.Schema.Collection(a.CollectionName)
	if coll == nil {
		coll = w.st.c.Schema.Collection(base.UsersCollection)
	}
	if coll == nil || coll.Field(rest[0]) == nil || a.ID == "" {
		return w.value(id, nil, false, false, sc)
	}
	if id.Modifier == filter.ModIsset {
		return paramOperand(w.st.d.Bool(true)), nil
	}
	key := "@request.auth"
	bound := Param(a.ID)
	p := &plan{steps: []step{{key: key, kind: stepTable, coll: coll, link: linkIDBound, bound: &bound}}}
	if err := w.systemPath(func() error { return w.planFields(p, key, coll, rest, id.Modifier) }); err != nil {
		return operand{}, err
	}
	return w.fromPlan(p, sc)
}

// systemPath runs fn with hidden fields allowed: as in PocketBase, @request.*
// and @collection.* paths are system paths (only superusers may use them in
// user filters, which the HTTP layer enforces).
func (w *where) systemPath(fn func() error) error {
	saved := w.allowHidden
	w.allowHidden = true
	defer func() { w.allowHidden = saved }()
	return fn()
}

// value applies id's modifier to a request value v known at compile time.
// arrays says whether a []any value is multi-valued (claims) rather than
// compared as its JSON text (body).
func (w *where) value(id *filter.Identifier, v any, exists, arrays bool, sc *scope) (operand, error) {
	d := w.st.d
	switch id.Modifier {
	case filter.ModIsset:
		return paramOperand(d.Bool(exists)), nil
	case filter.ModLength:
		return paramOperand(int64(len(toSlice(v)))), nil
	case filter.ModEach:
		return w.boundArray(id, toSlice(v), sc)
	case filter.ModLower:
		v = lowerValue(v)
	}
	if arrays {
		if s, ok := v.([]any); ok {
			return w.boundArray(id, s, sc)
		}
	}
	return paramOperand(w.st.norm(v)), nil
}

// boundArray is a multi-valued operand over the elements of a request
// array. Each occurrence iterates independently (request values have no row
// identity to share).
func (w *where) boundArray(id *filter.Identifier, items []any, sc *scope) (operand, error) {
	arr := Param(jsonText(items))
	key := strings.Join(id.Path, ".") + "#" + w.st.alias("k")
	p := &plan{steps: []step{{key: key, kind: stepEach, bound: &arr, multi: true}}, fin: final{kind: finValue}}
	return w.fromPlan(p, sc)
}

func (w *where) function(f *filter.Func, sc *scope) (operand, error) {
	d := w.st.d
	args := make([]SQL, len(f.Args))
	for i, a := range f.Args {
		o, err := w.resolve(a, sc)
		if err != nil {
			return operand{}, err
		}
		args[i] = o.sql
	}
	switch f.Name {
	case filter.FuncGeoDistance:
		if len(args) != 4 {
			return operand{}, fmt.Errorf("geoDistance expects 4 arguments")
		}
		return operand{sql: d.GeoDistance(args[0], args[1], args[2], args[3]), kind: kindExpr, noCoalesce: true}, nil
	case filter.FuncStrftime:
		if len(args) == 0 {
			return operand{}, fmt.Errorf("strftime expects a format argument")
		}
		return operand{sql: d.Coalesce(d.Strftime(args)), kind: kindExpr}, nil
	}
	return operand{}, fmt.Errorf("unknown function %q", f.Name)
}

// macro is the value of a datetime macro at the compiler's clock.
func (st *state) macro(name string) any {
	now := st.now
	day := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	endOf := func(next time.Time) string { return base.FormatTime(next.Add(-time.Millisecond)) }
	switch name {
	case "@now":
		return base.FormatTime(now)
	case "@yesterday":
		return base.FormatTime(now.AddDate(0, 0, -1))
	case "@tomorrow":
		return base.FormatTime(now.AddDate(0, 0, 1))
	case "@todayStart":
		return base.FormatTime(day)
	case "@todayEnd":
		return endOf(day.AddDate(0, 0, 1))
	case "@monthStart":
		return base.FormatTime(time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC))
	case "@monthEnd":
		return endOf(time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC))
	case "@yearStart":
		return base.FormatTime(time.Date(now.Year(), 1, 1, 0, 0, 0, 0, time.UTC))
	case "@yearEnd":
		return endOf(time.Date(now.Year()+1, 1, 1, 0, 0, 0, 0, time.UTC))
	case "@second":
		return int64(now.Second())
	case "@minute":
		return int64(now.Minute())
	case "@hour":
		return int64(now.Hour())
	case "@day":
		return int64(now.Day())
	case "@month":
		return int64(now.Month())
	case "@weekday":
		return int64(now.Weekday())
	case "@year":
		return int64(now.Year())
	}
	return nil
}

// norm converts a Go value to a bound SQL value: bools through the dialect,
// integral numbers as int64, other numbers as float64, arrays and objects
// as JSON text, nil as nil.
func (st *state) norm(v any) any {
	switch v := v.(type) {
	case nil:
		return nil
	case string:
		return v
	case bool:
		return st.d.Bool(v)
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i
		}
		f, err := v.Float64()
		if err != nil {
			return v.String()
		}
		return normFloat(f)
	case time.Time:
		return base.FormatTime(v)
	case []byte:
		return string(v)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return rv.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		u := rv.Uint()
		if u > math.MaxInt64 {
			return float64(u)
		}
		return int64(u)
	case reflect.Float32, reflect.Float64:
		return normFloat(rv.Float())
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return st.d.Bool(rv.Bool())
	}
	return jsonText(v)
}

func normFloat(f float64) any {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// toSlice returns the elements of an array value; nil and "" are empty, any
// other scalar is a one-element list.
func toSlice(v any) []any {
	if v == nil {
		return []any{}
	}
	if s, ok := v.(string); ok && s == "" {
		return []any{}
	}
	rv := reflect.ValueOf(v)
	if (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) || rv.Type().Elem().Kind() == reflect.Uint8 {
		return []any{v}
	}
	out := make([]any, rv.Len())
	for i := range out {
		out[i] = rv.Index(i).Interface()
	}
	return out
}

func toStrings(v any) []string {
	var out []string
	for _, x := range toSlice(v) {
		if s := fmt.Sprint(x); s != "" && x != nil {
			out = append(out, s)
		}
	}
	return out
}

func lowerValue(v any) any {
	switch v := v.(type) {
	case string:
		return strings.ToLower(v)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = lowerValue(x)
		}
		return out
	}
	return v
}

// walkValue follows path through nested maps and arrays: a numeric segment
// indexes an array; another segment over an array maps it over the
// elements (flattened), so claims like orgs[].org read as a list.
func walkValue(v any, path []string) (any, bool) {
	if len(path) == 0 {
		if s := toList(v); s != nil {
			return s, true
		}
		return v, true
	}
	if m := toMap(v); m != nil {
		c, ok := m[path[0]]
		if !ok {
			return nil, false
		}
		return walkValue(c, path[1:])
	}
	list := toList(v)
	if list == nil {
		return nil, false
	}
	if i, err := strconv.Atoi(path[0]); err == nil {
		if i < 0 || i >= len(list) {
			return nil, false
		}
		return walkValue(list[i], path[1:])
	}
	var out []any
	found := false
	for _, el := range list {
		x, ok := walkValue(el, path)
		if !ok {
			continue
		}
		found = true
		if xs, isList := x.([]any); isList {
			out = append(out, xs...)
		} else {
			out = append(out, x)
		}
	}
	if !found {
		return nil, false
	}
	return out, true
}

func toMap(v any) map[string]any {
	switch m := v.(type) {
	case map[string]any:
		return m
	case nil:
		return nil
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Map || rv.Type().Key().Kind() != reflect.String {
		return nil
	}
	out := make(map[string]any, rv.Len())
	for _, k := range rv.MapKeys() {
		out[k.String()] = rv.MapIndex(k).Interface()
	}
	return out
}

func toList(v any) []any {
	if v == nil {
		return nil
	}
	if l, ok := v.([]any); ok {
		return l
	}
	rv := reflect.ValueOf(v)
	if (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) || rv.Type().Elem().Kind() == reflect.Uint8 {
		return nil
	}
	return toSlice(v)
}
