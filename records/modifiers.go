package records

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/hanzoai/base"
)

// autogenerateSuffix is the key suffix that asks a text field for a
// generated value: "slug:autogenerate" = prefix + generated.
const autogenerateSuffix = ":autogenerate"

// ApplyModifiers resolves the body keys of input against current, the
// stored values of the record (nil on create), and returns the resulting
// values keyed by plain field name, normalized with Normalize. Keys are
// applied shortest first (ties in byte order), each against the value the
// earlier keys left, so {"tags": [...], "tags+": "x"} sets then appends:
//
//   - "name": sets the value.
//   - "name+" / "+name" (select, relation, file): append / prepend the
//     given value(s), duplicates removed; single fields keep the last value.
//   - "name-" (select, relation, file): remove the given value(s).
//   - "name+" / "name-" (number): add / subtract.
//   - "name:autogenerate" (text): the given prefix followed by a string
//     generated from the field's autogeneratePattern.
//
// Keys that address no field, modifiers that do not apply to the field's
// type and autodate fields (set by the server only) are dropped. The error
// is non-nil only when a value cannot be generated from an
// autogeneratePattern.
func ApplyModifiers(c *base.Collection, current map[string]any, input map[string]any) (map[string]any, error) {
	keys := make([]string, 0, len(input))
	for k := range input {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(a), len(b)), strings.Compare(a, b))
	})

	out := make(map[string]any, len(input))
	// value returns the value the field has before the next key applies.
	value := func(f *base.Field) any {
		if v, ok := out[f.Name]; ok {
			return v
		}
		if v, ok := current[f.Name]; ok {
			return Normalize(f, v)
		}
		return Zero(f)
	}

	for _, key := range keys {
		raw := input[key]
		f, op := resolveKey(c, key)
		if f == nil || f.Type == base.FieldAutodate {
			continue
		}
		switch op {
		case opSet:
			out[f.Name] = Normalize(f, raw)
		case opAppend, opPrepend, opSubtract:
			switch f.Type {
			case base.FieldNumber:
				if op == opPrepend {
					continue
				}
				n := value(f).(float64)
				if op == opAppend {
					n += toFloat(raw)
				} else {
					n -= toFloat(raw)
				}
				out[f.Name] = n
			case base.FieldSelect, base.FieldRelation, base.FieldFile:
				cur := asList(value(f))
				add := uniqueStrings(raw)
				var next []string
				switch op {
				case opAppend:
					next = append(slices.Clone(cur), add...)
				case opPrepend:
					next = append(slices.Clone(add), cur...)
				case opSubtract:
					next = slices.DeleteFunc(slices.Clone(cur), func(s string) bool { return slices.Contains(add, s) })
				}
				out[f.Name] = Normalize(f, next)
			}
		case opAutogenerate:
			if f.Type != base.FieldText {
				continue
			}
			v := toString(raw)
			if f.AutogeneratePattern != "" {
				g, err := Generate(f.AutogeneratePattern)
				if err != nil {
					return nil, fmt.Errorf("autogenerate %s: %w", f.Name, err)
				}
				v += g
			}
			out[f.Name] = v
		}
	}
	return out, nil
}

type modOp int

const (
	opSet modOp = iota
	opAppend
	opPrepend
	opSubtract
	opAutogenerate
)

// resolveKey finds the field a body key addresses and the operation. An
// exact field name wins over modifier syntax (a field may be named so that
// its name ends like a modifier only if it is a valid name, which "+" and
// "-" never are, so the order does not matter in practice).
func resolveKey(c *base.Collection, key string) (*base.Field, modOp) {
	if f := c.Field(key); f != nil {
		return f, opSet
	}
	if name, ok := strings.CutSuffix(key, autogenerateSuffix); ok {
		return c.Field(name), opAutogenerate
	}
	if name, ok := strings.CutPrefix(key, "+"); ok {
		return c.Field(name), opPrepend
	}
	if name, ok := strings.CutSuffix(key, "+"); ok {
		return c.Field(name), opAppend
	}
	if name, ok := strings.CutSuffix(key, "-"); ok {
		return c.Field(name), opSubtract
	}
	return nil, opSet
}
