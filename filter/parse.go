package filter

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/ganigeorgiev/fexpr"
)

// ErrEmpty is returned by Parse for a filter with no comparison.
var ErrEmpty = errors.New("empty filter expression")

// Parse parses a filter expression into its AST, a *Group. It enforces the
// package limits (MaxLength, MaxComparisons, MaxFuncDepth, MaxFuncArgs,
// MaxPathSegments) and checks identifiers syntactically: known @roots,
// modifiers and function names. Whether a field exists is checked later,
// against a schema.
func Parse(s string) (Expr, error) {
	if len(s) > MaxLength {
		return nil, fmt.Errorf("filter too long (max %d characters)", MaxLength)
	}
	groups, err := fexpr.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid filter: %w", err)
	}
	p := &parser{}
	g, err := p.group(groups)
	if err != nil {
		return nil, err
	}
	if len(g.Items) == 0 {
		return nil, ErrEmpty
	}
	return g, nil
}

type parser struct {
	comparisons int
}

func (p *parser) group(groups []fexpr.ExprGroup) (*Group, error) {
	g := &Group{}
	for _, eg := range groups {
		var e Expr
		switch item := eg.Item.(type) {
		case fexpr.Expr:
			c, err := p.comparison(item)
			if err != nil {
				return nil, err
			}
			e = c
		case []fexpr.ExprGroup:
			sub, err := p.group(item)
			if err != nil {
				return nil, err
			}
			if len(sub.Items) == 0 {
				continue
			}
			e = sub
		default:
			return nil, fmt.Errorf("invalid filter: unexpected item %T", eg.Item)
		}
		join := And
		if eg.Join == fexpr.JoinOr && len(g.Items) > 0 {
			join = Or
		}
		g.Items = append(g.Items, Item{Join: join, Expr: e})
	}
	return g, nil
}

func (p *parser) comparison(e fexpr.Expr) (*Comparison, error) {
	p.comparisons++
	if p.comparisons > MaxComparisons {
		return nil, fmt.Errorf("too many filter expressions (max %d)", MaxComparisons)
	}
	op := Op(e.Op)
	if !op.Valid() {
		return nil, fmt.Errorf("invalid operator %q", e.Op)
	}
	left, err := operand(e.Left, 0)
	if err != nil {
		return nil, err
	}
	right, err := operand(e.Right, 0)
	if err != nil {
		return nil, err
	}
	return &Comparison{Left: left, Op: op, Right: right}, nil
}

// operand converts one fexpr token; depth is the function nesting level of
// the token's enclosing call (0 at the top).
func operand(t fexpr.Token, depth int) (Operand, error) {
	switch t.Type {
	case fexpr.TokenText:
		return &Text{Value: t.Literal}, nil
	case fexpr.TokenNumber:
		return number(t.Literal)
	case fexpr.TokenIdentifier:
		return ParseIdentifier(t.Literal)
	case fexpr.TokenFunction:
		return function(t, depth+1)
	}
	return nil, fmt.Errorf("invalid operand %q", t.Literal)
}

func number(raw string) (*Number, error) {
	v, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return nil, fmt.Errorf("invalid number %q", raw)
	}
	return &Number{Raw: raw, Value: v}, nil
}

func function(t fexpr.Token, depth int) (*Func, error) {
	if depth > MaxFuncDepth {
		return nil, fmt.Errorf("too deeply nested function calls (max %d)", MaxFuncDepth)
	}
	args, _ := t.Meta.([]fexpr.Token)
	if len(args) > MaxFuncArgs {
		return nil, fmt.Errorf("too many arguments in function %q (max %d)", t.Literal, MaxFuncArgs)
	}
	f := &Func{Name: t.Literal}
	for _, a := range args {
		op, err := operand(a, depth)
		if err != nil {
			return nil, err
		}
		f.Args = append(f.Args, op)
	}
	if err := checkFunc(f); err != nil {
		return nil, err
	}
	return f, nil
}

func checkFunc(f *Func) error {
	switch f.Name {
	case FuncGeoDistance:
		if len(f.Args) != 4 {
			return fmt.Errorf("geoDistance expects 4 arguments (lonA, latA, lonB, latB), got %d", len(f.Args))
		}
		for _, a := range f.Args {
			if _, ok := a.(*Text); ok {
				return errors.New("geoDistance arguments must be numbers or identifiers")
			}
		}
	case FuncStrftime:
		if len(f.Args) == 0 {
			return errors.New("strftime expects a format argument")
		}
		for i, a := range f.Args {
			if _, ok := a.(*Text); !ok && i != 1 {
				return errors.New("strftime format and modifiers must be text literals")
			}
		}
	default:
		return fmt.Errorf("unknown function %q", f.Name)
	}
	return nil
}

// ParseIdentifier parses and syntactically checks one identifier: dotted
// segments of letters, digits and underscores; an optional
// `@collection.<name>:<alias>` alias; an optional known modifier on the last
// segment; known @roots.
func ParseIdentifier(raw string) (*Identifier, error) {
	id, err := splitIdentifier(raw)
	if err != nil {
		return nil, err
	}
	if err := checkRoots(id); err != nil {
		return nil, err
	}
	return id, nil
}

func splitIdentifier(raw string) (*Identifier, error) {
	if raw == "" {
		return nil, errors.New("empty identifier")
	}
	segs := strings.Split(raw, ".")
	if len(segs) > MaxPathSegments {
		return nil, fmt.Errorf("identifier %q has too many segments (max %d)", clip(raw), MaxPathSegments)
	}
	id := &Identifier{Raw: raw, Path: make([]string, 0, len(segs))}
	for i, seg := range segs {
		name, suffix, hasColon := strings.Cut(seg, ":")
		if hasColon {
			if strings.Contains(suffix, ":") {
				return nil, fmt.Errorf("invalid identifier %q", clip(raw))
			}
			switch {
			case i == len(segs)-1:
				m := Modifier(suffix)
				switch m {
				case ModEach, ModLength, ModLower, ModIsset, ModChanged:
				default:
					return nil, fmt.Errorf("unknown modifier %q in %q", clip(suffix), clip(raw))
				}
				id.Modifier = m
			case i == 1 && segs[0] == RootCollection:
				if !validName(suffix) {
					return nil, fmt.Errorf("invalid collection alias in %q", clip(raw))
				}
				id.Alias = suffix
			default:
				return nil, fmt.Errorf("invalid identifier %q", clip(raw))
			}
		}
		if !validSegment(name, i == 0) {
			return nil, fmt.Errorf("invalid identifier %q", clip(raw))
		}
		id.Path = append(id.Path, name)
	}
	return id, nil
}

func checkRoots(id *Identifier) error {
	root := id.Path[0]
	if !strings.HasPrefix(root, "@") {
		if id.Modifier == ModIsset || id.Modifier == ModChanged {
			return fmt.Errorf("modifier :%s is only allowed on @request fields (%q)", id.Modifier, clip(id.Raw))
		}
		return nil
	}
	switch {
	case root == RootRequest:
		if len(id.Path) < 2 {
			return fmt.Errorf("incomplete identifier %q", clip(id.Raw))
		}
		switch id.Path[1] {
		case ReqContext, ReqMethod:
			if len(id.Path) != 2 {
				return fmt.Errorf("invalid identifier %q", clip(id.Raw))
			}
		case ReqHeaders, ReqQuery, ReqBody, ReqAuth:
			if len(id.Path) < 3 {
				return fmt.Errorf("incomplete identifier %q", clip(id.Raw))
			}
		default:
			return fmt.Errorf("unknown request field %q", clip(id.Raw))
		}
		if id.Modifier == ModChanged && id.Path[1] != ReqBody {
			return fmt.Errorf("modifier :changed is only allowed on @request.body fields (%q)", clip(id.Raw))
		}
	case root == RootCollection:
		if len(id.Path) < 3 {
			return fmt.Errorf("incomplete identifier %q", clip(id.Raw))
		}
		if id.Modifier == ModIsset || id.Modifier == ModChanged {
			return fmt.Errorf("modifier :%s is only allowed on @request fields (%q)", id.Modifier, clip(id.Raw))
		}
	case IsMacro(root):
		if len(id.Path) != 1 || id.Modifier != ModNone {
			return fmt.Errorf("invalid identifier %q", clip(id.Raw))
		}
	default:
		return fmt.Errorf("unknown identifier %q", clip(id.Raw))
	}
	return nil
}

// validSegment: letters, digits and underscores; the first segment may
// start with "@".
func validSegment(s string, first bool) bool {
	if s == "" {
		return false
	}
	if first && s[0] == '@' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return false
		}
	}
	return true
}

func validName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	return validSegment(s, false)
}

// clip shortens user input quoted in error messages.
func clip(s string) string {
	const max = 80
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}
