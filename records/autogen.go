package records

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp/syntax"
	"strings"
	"unicode/utf8"

	"github.com/hanzoai/base"
)

// idAlphabet is the alphabet of record ids.
const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// idLength is the length of a record id.
const idLength = 15

// NewID returns a new record id: 15 characters of [a-z0-9] from a
// cryptographically secure source, uniformly distributed.
func NewID() string {
	var out [idLength]byte
	var buf [32]byte
	n := 0
	for n < idLength {
		rand.Read(buf[:]) // never fails (crypto/rand crashes the program instead)
		for _, b := range buf {
			// 252 = 7*36: rejecting the top 4 values keeps the draw uniform.
			if b >= 252 {
				continue
			}
			out[n] = idAlphabet[b%36]
			n++
			if n == idLength {
				break
			}
		}
	}
	return string(out[:])
}

// maxRepeat caps the unbounded repetitions *, + and {n,} when generating.
const maxRepeat = 10

// maxGenerated caps the length of a generated string, in runes.
const maxGenerated = 1 << 16

// Generate returns a random string that matches pattern, a Go (RE2)
// regular expression such as "[a-z0-9]{15}". Character classes, literals,
// concatenation, alternation, groups and the repetitions ?, *, +, {n},
// {n,} and {n,m} are supported; unbounded repetitions repeat at most 10
// extra times. Anchors and word boundaries generate nothing. Randomness
// comes from crypto/rand. It returns an error when pattern does not parse
// or can match nothing, or when the result would exceed 65536 characters.
func Generate(pattern string) (string, error) {
	if pattern == "[a-z0-9]{15}" {
		return NewID(), nil
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return "", fmt.Errorf("generate from %q: %w", pattern, err)
	}
	g := generator{}
	if err := g.gen(re); err != nil {
		return "", fmt.Errorf("generate from %q: %w", pattern, err)
	}
	return g.b.String(), nil
}

// Autogenerate fills every text field of c that has an autogeneratePattern
// and an empty value in data (missing counts as empty) with a generated
// string, as PocketBase does for new records; the id field included. It is
// meant for creates, after ApplyModifiers and before validation.
func Autogenerate(c *base.Collection, data map[string]any) error {
	for _, f := range c.Fields {
		if f.Type != base.FieldText || f.AutogeneratePattern == "" {
			continue
		}
		if v, _ := data[f.Name].(string); v != "" {
			continue
		}
		v, err := Generate(f.AutogeneratePattern)
		if err != nil {
			return fmt.Errorf("autogenerate %s: %w", f.Name, err)
		}
		data[f.Name] = v
	}
	return nil
}

var errTooLong = errors.New("generated string too long")

type generator struct {
	b strings.Builder
	n int // runes written
}

func (g *generator) write(r rune) error {
	if g.n >= maxGenerated {
		return errTooLong
	}
	g.n++
	g.b.WriteRune(r)
	return nil
}

func (g *generator) gen(re *syntax.Regexp) error {
	switch re.Op {
	case syntax.OpNoMatch:
		return errors.New("pattern matches nothing")
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return nil
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if err := g.write(r); err != nil {
				return err
			}
		}
		return nil
	case syntax.OpCharClass:
		r, err := pickFromClass(re.Rune)
		if err != nil {
			return err
		}
		return g.write(r)
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		// Printable ASCII without space: matches both and stays readable.
		return g.write(rune('!' + randIntn(int('~'-'!'+1))))
	case syntax.OpCapture:
		return g.gen(re.Sub[0])
	case syntax.OpConcat:
		for _, s := range re.Sub {
			if err := g.gen(s); err != nil {
				return err
			}
		}
		return nil
	case syntax.OpAlternate:
		return g.gen(re.Sub[randIntn(len(re.Sub))])
	case syntax.OpStar:
		return g.repeat(re.Sub[0], 0, maxRepeat)
	case syntax.OpPlus:
		return g.repeat(re.Sub[0], 1, 1+maxRepeat)
	case syntax.OpQuest:
		return g.repeat(re.Sub[0], 0, 1)
	case syntax.OpRepeat:
		maxN := re.Max
		if maxN < 0 {
			maxN = re.Min + maxRepeat
		}
		return g.repeat(re.Sub[0], re.Min, maxN)
	}
	return fmt.Errorf("unsupported regexp construct %s", re.Op)
}

func (g *generator) repeat(sub *syntax.Regexp, minN, maxN int) error {
	n := minN
	if maxN > minN {
		n += randIntn(maxN - minN + 1)
	}
	for range n {
		if err := g.gen(sub); err != nil {
			return err
		}
	}
	return nil
}

// pickFromClass picks a rune uniformly from a character class given as
// sorted [lo, hi] pairs. Printable ASCII members are preferred, so that
// negated classes like [^a-z] generate readable text; other members are
// used only when the class has no printable ASCII rune.
func pickFromClass(ranges []rune) (rune, error) {
	if r, ok := pickInRanges(ranges, ' ', '~'); ok {
		return r, nil
	}
	if r, ok := pickInRanges(ranges, 0, utf8.MaxRune); ok {
		return r, nil
	}
	return 0, errors.New("empty character class")
}

// pickInRanges picks uniformly among the valid runes of ranges within
// [lo, hi]; ok is false when there are none.
func pickInRanges(ranges []rune, lo, hi rune) (rune, bool) {
	type span struct{ lo, hi rune }
	var spans []span
	total := 0
	for i := 0; i+1 < len(ranges); i += 2 {
		a, b := max(ranges[i], lo), min(ranges[i+1], hi)
		// Leave out the surrogate block: not valid in UTF-8.
		for _, s := range splitSurrogates(a, b) {
			spans = append(spans, span{s[0], s[1]})
			total += int(s[1]-s[0]) + 1
		}
	}
	if total == 0 {
		return 0, false
	}
	k := randIntn(total)
	for _, s := range spans {
		size := int(s.hi-s.lo) + 1
		if k < size {
			return s.lo + rune(k), true
		}
		k -= size
	}
	return 0, false
}

func splitSurrogates(a, b rune) [][2]rune {
	if a > b {
		return nil
	}
	const sLo, sHi = 0xD800, 0xDFFF
	if b < sLo || a > sHi {
		return [][2]rune{{a, b}}
	}
	var out [][2]rune
	if a < sLo {
		out = append(out, [2]rune{a, sLo - 1})
	}
	if b > sHi {
		out = append(out, [2]rune{sHi + 1, b})
	}
	return out
}

// randIntn returns a uniform integer in [0, n) from crypto/rand; n > 0.
func randIntn(n int) int {
	if n <= 1 {
		return 0
	}
	un := uint64(n)
	// Reject the tail above the largest multiple of n to stay uniform.
	limit := ^uint64(0) - (^uint64(0) % un)
	var buf [8]byte
	for {
		rand.Read(buf[:])
		v := binary.LittleEndian.Uint64(buf[:])
		if v < limit {
			return int(v % un)
		}
	}
}
