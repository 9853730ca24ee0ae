package records

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hanzoai/base"
)

func TestGenerateMatchesPattern(t *testing.T) {
	patterns := []string{
		`[a-z0-9]{15}`,
		`[A-Z]{3}-\d{4}`,
		`^abc[xyz]?$`,
		`(foo|bar|baz)_[0-9a-f]{8}`,
		`a+b*c?`,
		`x{2,5}y{3,}`,
		`[^a-z]{10}`,
		`.{6}`,
		`\w{4}\s\W`,
		`(?i)hello`,
		`[\p{Greek}]{3}`,
		`(ab){2}|c{0}`,
		`\bword\b`,
		``,
	}
	for _, p := range patterns {
		t.Run(p, func(t *testing.T) {
			re := regexp.MustCompile(`^(?:` + p + `)$`)
			seen := map[string]bool{}
			for range 500 {
				s, err := Generate(p)
				if err != nil {
					t.Fatalf("Generate(%q): %v", p, err)
				}
				if !re.MatchString(s) {
					t.Fatalf("Generate(%q) = %q does not match", p, s)
				}
				seen[s] = true
			}
			if strings.Contains(p, "{15}") && len(seen) < 500 {
				t.Errorf("only %d distinct values of %q in 500 runs", len(seen), p)
			}
		})
	}
}

func TestGenerateErrors(t *testing.T) {
	for _, p := range []string{`[a-`, `(abc`, `[^\x00-\x{10FFFF}]`} {
		if s, err := Generate(p); err == nil {
			t.Errorf("Generate(%q) = %q, want error", p, s)
		}
	}
}

func TestGenerateUsesWholeClass(t *testing.T) {
	// Every member of a small class shows up: the draw is not stuck.
	seen := map[rune]bool{}
	for range 2000 {
		s, err := Generate(`[abc]`)
		if err != nil {
			t.Fatal(err)
		}
		seen[rune(s[0])] = true
	}
	if len(seen) != 3 {
		t.Fatalf("saw %d of 3 class members", len(seen))
	}
}

func TestNewID(t *testing.T) {
	re := regexp.MustCompile(`^[a-z0-9]{15}$`)
	seen := map[string]bool{}
	counts := map[rune]int{}
	for range 10000 {
		id := NewID()
		if !re.MatchString(id) {
			t.Fatalf("NewID() = %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		for _, r := range id {
			counts[r]++
		}
	}
	// 150000 draws over 36 symbols: about 4167 each; all must appear with a
	// sane share.
	if len(counts) != 36 {
		t.Fatalf("only %d symbols used", len(counts))
	}
	for r, n := range counts {
		if n < 3500 || n > 4900 {
			t.Errorf("symbol %q drawn %d times, want ~4167", r, n)
		}
	}
	if !base.ValidName("x" + NewID()) {
		t.Fatal("id breaks names")
	}
}

func TestAutogenerate(t *testing.T) {
	c := &base.Collection{Name: "posts", Fields: []*base.Field{
		base.RecordIDField(),
		{Name: "slug", Type: base.FieldText, AutogeneratePattern: `post-[0-9]{4}`},
		{Name: "kept", Type: base.FieldText, AutogeneratePattern: `[a-z]{3}`},
		{Name: "plain", Type: base.FieldText},
	}}
	data := map[string]any{"kept": "mine", "plain": ""}
	if err := Autogenerate(c, data); err != nil {
		t.Fatal(err)
	}
	if id, _ := data["id"].(string); !regexp.MustCompile(`^[a-z0-9]{15}$`).MatchString(id) {
		t.Errorf("id = %q", id)
	}
	if s, _ := data["slug"].(string); !regexp.MustCompile(`^post-[0-9]{4}$`).MatchString(s) {
		t.Errorf("slug = %q", s)
	}
	if data["kept"] != "mine" || data["plain"] != "" {
		t.Errorf("set values changed: %v", data)
	}

	bad := &base.Collection{Fields: []*base.Field{{Name: "x", Type: base.FieldText, AutogeneratePattern: `[`}}}
	if err := Autogenerate(bad, map[string]any{}); err == nil {
		t.Error("want error for a broken pattern")
	}
}

func BenchmarkNewID(b *testing.B) {
	for b.Loop() {
		_ = NewID()
	}
}

func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		if _, err := Generate(`[a-z0-9]{8}-[A-Z]{4}`); err != nil {
			b.Fatal(err)
		}
	}
}
