package rules

import "strings"

// SQL is a fragment of SQL text and its bound arguments, in the order of the
// "?" placeholders in Text. Fragments compose with Cat, which keeps text and
// arguments in step, so a dialect may repeat an operand (Haversine uses a
// latitude twice) without losing track of its arguments.
type SQL struct {
	Text string
	Args []any
}

// Raw is a fragment without arguments.
func Raw(text string) SQL { return SQL{Text: text} }

// Param is a single "?" bound to v.
func Param(v any) SQL { return SQL{Text: "?", Args: []any{v}} }

// Cat concatenates parts, each a string (literal SQL text) or an SQL
// fragment; any other type panics (a programming error).
func Cat(parts ...any) SQL {
	var b strings.Builder
	var args []any
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			b.WriteString(p)
		case SQL:
			b.WriteString(p.Text)
			args = append(args, p.Args...)
		default:
			panic("rules.Cat: unsupported part type")
		}
	}
	return SQL{Text: b.String(), Args: args}
}

// Join concatenates fragments with sep between them.
func Join(sep string, frags []SQL) SQL {
	parts := make([]any, 0, 2*len(frags))
	for i, f := range frags {
		if i > 0 {
			parts = append(parts, sep)
		}
		parts = append(parts, f)
	}
	return Cat(parts...)
}
