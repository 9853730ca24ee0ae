package filter

import (
	"fmt"
	"strings"

	"github.com/ganigeorgiev/fexpr"
)

// ParseSort parses a sort list: comma separated items, each an identifier
// (field path, optionally with a modifier such as :lower), a function call,
// or one of @random and @rowid, optionally prefixed by "-" (descending) or
// "+" (ascending, the default). Empty items are skipped. At most
// MaxSortItems items of at most MaxSortItemLength bytes each.
func ParseSort(s string) ([]SortItem, error) {
	var items []SortItem
	for _, raw := range splitSort(s) {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		if len(raw) > MaxSortItemLength {
			return nil, fmt.Errorf("sort item too long (max %d characters)", MaxSortItemLength)
		}
		if len(items) == MaxSortItems {
			return nil, fmt.Errorf("too many sort items (max %d)", MaxSortItems)
		}
		item := SortItem{}
		switch raw[0] {
		case '-':
			item.Desc = true
			raw = strings.TrimSpace(raw[1:])
		case '+':
			raw = strings.TrimSpace(raw[1:])
		}
		if raw == SortRandom || raw == SortRowID {
			item.Expr = &Identifier{Raw: raw, Path: []string{raw}}
			items = append(items, item)
			continue
		}
		op, err := sortOperand(raw)
		if err != nil {
			return nil, err
		}
		item.Expr = op
		items = append(items, item)
	}
	return items, nil
}

// sortOperand scans raw as exactly one identifier or function call.
func sortOperand(raw string) (Operand, error) {
	sc := fexpr.NewScanner([]byte(raw))
	t, err := sc.Scan()
	if err != nil {
		return nil, fmt.Errorf("invalid sort item %q: %w", clip(raw), err)
	}
	if t.Type != fexpr.TokenIdentifier && t.Type != fexpr.TokenFunction {
		return nil, fmt.Errorf("invalid sort item %q", clip(raw))
	}
	rest, err := sc.Scan()
	if err != nil || rest.Type != fexpr.TokenEOF {
		return nil, fmt.Errorf("invalid sort item %q", clip(raw))
	}
	op, err := operand(t, 0)
	if err != nil {
		return nil, err
	}
	if id, ok := op.(*Identifier); ok && (id.Modifier == ModIsset || id.Modifier == ModChanged) {
		return nil, fmt.Errorf("modifier :%s is not allowed in sort", id.Modifier)
	}
	return op, nil
}

// splitSort splits on commas outside parentheses and quotes.
func splitSort(s string) []string {
	var out []string
	depth, start := 0, 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			if depth > 0 {
				depth--
			}
		case c == ',' && depth == 0:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
