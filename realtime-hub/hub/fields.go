package hub

import "strings"

// pickFields keeps only the fields named in fields (a comma list of dot
// paths, "*" for every key of a level) from v, a generic JSON value.
// Modifiers (":excerpt(...)") are accepted and ignored: the field is kept
// whole. handler/picker.go is the full implementation; the two should
// share one package.
func pickFields(v any, fields string) any {
	root := fieldTree{}
	for _, entry := range strings.Split(fields, ",") {
		path, _, _ := strings.Cut(strings.TrimSpace(entry), ":")
		if path == "" {
			continue
		}
		node := root
		for _, seg := range strings.Split(path, ".") {
			next, ok := node[seg]
			if !ok {
				next = fieldTree{}
				node[seg] = next
			}
			node = next
		}
	}
	if len(root) == 0 {
		return v
	}
	return root.pick(v)
}

type fieldTree map[string]fieldTree

func (t fieldTree) pick(v any) any {
	if len(t) == 0 {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		star, hasStar := t["*"]
		for k, val := range x {
			if sub, ok := t[k]; ok {
				out[k] = sub.pick(val)
			} else if hasStar {
				out[k] = star.pick(val)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = t.pick(e)
		}
		return out
	}
	return v
}
