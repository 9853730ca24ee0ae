package store

import (
	"fmt"
	"strings"
)

// tokKind classifies an SQL token.
type tokKind int

const (
	tkWord   tokKind = iota // bare identifier or keyword
	tkQuoted                // "ident", `ident` or [ident]
	tkString                // 'literal'
	tkNumber                // 12, 1.5, 0x1F
	tkPunct                 // ( ) , . ; operators
)

// token is one lexical SQL token; text is the raw source, val the
// unquoted identifier for tkQuoted, and pos/end its byte range.
type token struct {
	kind     tokKind
	text     string
	val      string
	pos, end int
}

// ident reports whether t names something (bare or quoted) and its name.
func (t token) ident() (string, bool) {
	switch t.kind {
	case tkWord:
		return t.text, true
	case tkQuoted:
		return t.val, true
	}
	return "", false
}

// is reports whether t is the bare keyword or punctuation kw
// (case-insensitive).
func (t token) is(kw string) bool {
	return (t.kind == tkWord || t.kind == tkPunct) && strings.EqualFold(t.text, kw)
}

// tokenize splits SQL text into tokens, skipping whitespace and comments.
func tokenize(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(s) && s[i+1] == '-':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(s) && s[i+1] == '*':
			j := strings.Index(s[i+2:], "*/")
			if j < 0 {
				return nil, fmt.Errorf("unterminated comment at %d", i)
			}
			i += j + 4
		case c == '\'' || c == '"' || c == '`' || c == '[':
			closer := c
			if c == '[' {
				closer = ']'
			}
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, fmt.Errorf("unterminated quote at %d", i)
				}
				if s[j] == closer {
					if closer != ']' && j+1 < len(s) && s[j+1] == closer {
						b.WriteByte(closer)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			kind := tkQuoted
			if c == '\'' {
				kind = tkString
			}
			toks = append(toks, token{kind: kind, text: s[i : j+1], val: b.String(), pos: i, end: j + 1})
			i = j + 1
		case isWordStart(c):
			j := i + 1
			for j < len(s) && isWordPart(s[j]) {
				j++
			}
			toks = append(toks, token{kind: tkWord, text: s[i:j], pos: i, end: j})
			i = j
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			j := i + 1
			for j < len(s) && (isWordPart(s[j]) || s[j] == '.' ||
				(s[j] == '+' || s[j] == '-') && (s[j-1] == 'e' || s[j-1] == 'E')) {
				j++
			}
			toks = append(toks, token{kind: tkNumber, text: s[i:j], pos: i, end: j})
			i = j
		default:
			n := 1
			if i+1 < len(s) {
				switch s[i : i+2] {
				case "<=", ">=", "<>", "!=", "==", "||", "<<", ">>", "->":
					n = 2
					if s[i:i+2] == "->" && i+2 < len(s) && s[i+2] == '>' {
						n = 3
					}
				}
			}
			toks = append(toks, token{kind: tkPunct, text: s[i : i+n], pos: i, end: i + n})
			i += n
		}
	}
	return toks, nil
}

func isWordStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || c == '$' || c == '@' || c == ':'
}

func isWordPart(c byte) bool {
	return isWordStart(c) || c >= '0' && c <= '9'
}

// requote renders the source range of toks with every quoted identifier
// re-quoted by quote, so PocketBase's `backticks` become the dialect's
// quoting. Whitespace and comments between tokens are kept.
func requote(src string, toks []token, quote func(string) string) string {
	if len(toks) == 0 {
		return ""
	}
	var b strings.Builder
	prev := toks[0].pos
	for _, t := range toks {
		b.WriteString(src[prev:t.pos])
		if t.kind == tkQuoted {
			b.WriteString(quote(t.val))
		} else {
			b.WriteString(t.text)
		}
		prev = t.end
	}
	return b.String()
}
