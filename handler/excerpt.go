package handler

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
)

// excerptMod is the fields modifier excerpt(max, withEllipsis?): an HTML
// string becomes plain text of at most max runes.
type excerptMod struct {
	max      int
	ellipsis bool
}

// apply returns the excerpt of v when v is a string; any other value (and a
// nil modifier) leaves v unchanged.
func (m *excerptMod) apply(v any) any {
	if m == nil {
		return v
	}
	s, ok := v.(string)
	if !ok {
		return v
	}
	return excerpt(s, m.max, m.ellipsis)
}

// excerptSkip are elements whose content is not text a reader sees.
var excerptSkip = map[string]bool{
	"script": true, "style": true, "noscript": true, "template": true,
	"head": true, "title": true,
	"iframe": true, "frame": true, "frameset": true, "object": true, "embed": true,
	"svg": true, "math": true, "canvas": true, "img": true, "picture": true,
	"video": true, "audio": true, "source": true, "track": true, "map": true,
	"input": true, "textarea": true, "select": true, "option": true, "optgroup": true,
	"button": true, "datalist": true, "output": true, "meter": true, "progress": true,
}

// excerptInline are elements that do not break the text flow; every other
// element counts as a block and separates words with a space.
var excerptInline = map[string]bool{
	"a": true, "abbr": true, "acronym": true, "b": true, "bdi": true, "bdo": true,
	"big": true, "cite": true, "code": true, "data": true, "del": true, "dfn": true,
	"em": true, "font": true, "i": true, "ins": true, "kbd": true, "label": true,
	"mark": true, "q": true, "rp": true, "rt": true, "ruby": true, "s": true,
	"samp": true, "small": true, "span": true, "strike": true, "strong": true,
	"sub": true, "sup": true, "time": true, "tt": true, "u": true, "var": true,
	"wbr": true,
}

// excerptVoid are elements that never have content or an end tag.
var excerptVoid = map[string]bool{
	"area": true, "base": true, "br": true, "col": true, "embed": true, "hr": true,
	"img": true, "input": true, "link": true, "meta": true, "param": true,
	"source": true, "track": true, "wbr": true,
}

// excerptWriter accumulates collapsed plain text up to a rune budget.
type excerptWriter struct {
	b         strings.Builder
	runes     int
	max       int
	space     bool // a space is pending before the next visible rune
	truncated bool
}

// text appends s, collapsing whitespace runs to one space. It reports false
// once the budget is exceeded.
func (w *excerptWriter) text(s []byte) bool {
	for len(s) > 0 {
		r, size := utf8.DecodeRune(s)
		s = s[size:]
		if unicode.IsSpace(r) {
			w.space = w.runes > 0
			continue
		}
		need := 1
		if w.space {
			need = 2
		}
		if w.runes+need > w.max {
			w.truncated = true
			return false
		}
		if w.space {
			w.b.WriteByte(' ')
			w.space = false
			w.runes++
		}
		w.b.WriteRune(r)
		w.runes++
	}
	return true
}

// brk records a block boundary: a single space between words.
func (w *excerptWriter) brk() { w.space = w.runes > 0 }

// excerpt converts an HTML string to plain text (§1.5): tags are dropped,
// the content of script/style/media/form-control elements skipped, block
// elements separate words with a single space, whitespace is collapsed and
// trimmed. The text is cut to max runes, with "..." appended when cut and
// withEllipsis is set.
func excerpt(s string, maxRunes int, withEllipsis bool) string {
	if s == "" || maxRunes <= 0 {
		return s
	}
	w := &excerptWriter{max: maxRunes}
	z := html.NewTokenizer(strings.NewReader(s))
	skipTag := ""
	skipDepth := 0
loop:
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			// io.EOF at the end of input; nothing else can fail reading a
			// strings.Reader.
			break loop
		case html.TextToken:
			if skipDepth > 0 {
				continue
			}
			if !w.text(z.Text()) {
				break loop
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			name, _ := z.TagName()
			if skipDepth > 0 {
				if tt == html.StartTagToken && string(name) == skipTag {
					skipDepth++
				}
				continue
			}
			if excerptSkip[string(name)] {
				// Skipped elements vanish without separating words.
				if tt == html.StartTagToken && !excerptVoid[string(name)] {
					skipTag, skipDepth = string(name), 1
				}
				continue
			}
			if !excerptInline[string(name)] {
				w.brk()
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			if skipDepth > 0 {
				if string(name) == skipTag {
					skipDepth--
				}
				continue
			}
			if excerptSkip[string(name)] {
				continue // a stray end tag of a skipped (e.g. void) element
			}
			if !excerptInline[string(name)] {
				w.brk()
			}
		}
	}
	// The writer never emits a leading or trailing space.
	out := w.b.String()
	if w.truncated && withEllipsis {
		out += "..."
	}
	return out
}
