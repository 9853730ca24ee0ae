package handler

import (
	"strconv"
	"strings"
)

// fieldSet is a parsed fields query parameter (§1.5): a tree of path
// segments. Parse it once with parseFields and reuse it for every item.
// A fieldSet is read-only after parsing and safe for concurrent use.
type fieldSet struct {
	root *fieldNode
}

// fieldNode is one level of the fields tree.
type fieldNode struct {
	// children are the explicitly named keys at this level.
	children map[string]*fieldNode
	// final means the path ends here: the whole value is kept (after mod).
	final bool
	mod   *excerptMod
	// star means "*" was given at this level: every key without its own
	// entry in children is kept whole (after starMod).
	star    bool
	starMod *excerptMod
}

// pickFields keeps only the fields named in fields (a comma list of dot
// paths, see parseFields) from v, a generic JSON value. v is not modified;
// the result shares unpicked subtrees with it.
func pickFields(v any, fields string) any {
	return parseFields(fields).pick(v)
}

// parseFields parses a fields query parameter: a comma separated list of dot
// paths, each optionally followed by ":excerpt(max, withEllipsis?)". "*" as
// the last segment keeps every key of that level; keys with explicit deeper
// entries keep their restriction. Commas inside parentheses or quotes do not
// separate entries. Malformed modifiers are ignored (the field is kept with
// its value unmodified); empty entries are skipped. It never fails.
func parseFields(raw string) *fieldSet {
	fs := &fieldSet{}
	for _, entry := range splitTopLevel(raw) {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		path, modRaw, hasMod := strings.Cut(entry, ":")
		path = strings.TrimSpace(path)
		if path == "" {
			continue
		}
		var mod *excerptMod
		if hasMod {
			mod = parseModifier(modRaw)
		}
		if fs.root == nil {
			fs.root = &fieldNode{}
		}
		fs.root.add(strings.Split(path, "."), mod)
	}
	return fs
}

// add inserts one path below n; later entries override earlier modifiers.
func (n *fieldNode) add(segs []string, mod *excerptMod) {
	seg := segs[0]
	if seg == "*" && len(segs) == 1 {
		n.star = true
		n.starMod = mod
		return
	}
	if n.children == nil {
		n.children = make(map[string]*fieldNode)
	}
	c := n.children[seg]
	if c == nil {
		c = &fieldNode{}
		n.children[seg] = c
	}
	if len(segs) == 1 {
		c.final = true
		c.mod = mod
		return
	}
	c.add(segs[1:], mod)
}

// empty reports whether the set selects nothing, i.e. picking is a no-op.
func (fs *fieldSet) empty() bool { return fs == nil || fs.root == nil }

// pick applies the set to v (map[string]any, []any or []map[string]any;
// anything else is returned unchanged). It never modifies v.
func (fs *fieldSet) pick(v any) any {
	if fs.empty() {
		return v
	}
	return pickValue(v, fs.root)
}

func pickValue(v any, n *fieldNode) any {
	switch t := v.(type) {
	case map[string]any:
		return pickMap(t, n)
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			if m, ok := x.(map[string]any); ok {
				out[i] = pickMap(m, n)
			} else {
				out[i] = x
			}
		}
		return out
	case []map[string]any:
		out := make([]map[string]any, len(t))
		for i, m := range t {
			out[i] = pickMap(m, n)
		}
		return out
	default:
		return v
	}
}

func pickMap(m map[string]any, n *fieldNode) map[string]any {
	if m == nil {
		return nil
	}
	size := len(n.children)
	if n.star || size > len(m) {
		size = len(m)
	}
	out := make(map[string]any, size)
	for k, v := range m {
		if c := n.children[k]; c != nil {
			if c.final {
				out[k] = c.mod.apply(v)
			} else {
				out[k] = pickValue(v, c)
			}
		} else if n.star {
			out[k] = n.starMod.apply(v)
		}
	}
	return out
}

// splitTopLevel splits s on commas that are outside parentheses and quotes.
func splitTopLevel(s string) []string {
	var parts []string
	depth := 0
	var quote byte
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			if depth > 0 {
				depth--
			}
		case c == ',' && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// parseModifier parses "excerpt(max, withEllipsis?)". Anything else, or bad
// arguments (max not a positive integer, too many arguments), yields nil:
// the field is kept and its value left unmodified.
func parseModifier(raw string) *excerptMod {
	raw = strings.TrimSpace(raw)
	name, rest, ok := strings.Cut(raw, "(")
	if !ok || !strings.EqualFold(strings.TrimSpace(name), "excerpt") {
		return nil
	}
	rest = strings.TrimSpace(rest)
	if !strings.HasSuffix(rest, ")") {
		return nil
	}
	args := strings.Split(rest[:len(rest)-1], ",")
	if len(args) > 2 {
		return nil
	}
	maxRunes, err := strconv.Atoi(unquoteArg(args[0]))
	if err != nil || maxRunes <= 0 {
		return nil
	}
	mod := &excerptMod{max: maxRunes}
	if len(args) == 2 {
		mod.ellipsis, _ = strconv.ParseBool(unquoteArg(args[1]))
	}
	return mod
}

func unquoteArg(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'' || s[0] == '`') && s[len(s)-1] == s[0] {
		s = s[1 : len(s)-1]
	}
	return strings.TrimSpace(s)
}
