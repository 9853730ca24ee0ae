package handler

import (
	"strings"
	"testing"
)

func TestExcerpt(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		max      int
		ellipsis bool
		want     string
	}{
		{"blocks become spaces", "<p>Hello <b>world</b></p><p>Second</p>", 100, false, "Hello world Second"},
		{"block before text", "a<div>b</div>c", 100, false, "a b c"},
		{"br separates", "a<br>b<br/>c", 100, false, "a b c"},
		{"inline does not separate", "un<b>believ</b><em>able</em>", 100, false, "unbelievable"},
		{"script and style skipped", "<p>a</p><script>var x = '<p>b</p>';</script><style>p{color:red}</style>c", 100, false, "a c"},
		{"media skipped", `x<img src="a" alt="IMG">y<svg><text>S</text><svg>in</svg>still</svg>z<iframe>F</iframe>`, 100, false, "xyz"},
		{"form controls skipped", `<form>Name <input value="x"> <select><option>Opt</option></select><button>Go</button><textarea>TA</textarea></form>`, 100, false, "Name"},
		{"comments dropped", "a<!-- hidden -->b", 100, false, "ab"},
		{"entities decoded", "Tom &amp; Jerry&nbsp;&lt;3", 100, false, "Tom & Jerry <3"},
		{"whitespace collapsed and trimmed", "  a \n\t b  <p>  </p> c ", 100, false, "a b c"},
		{"plain text", "just text", 100, false, "just text"},
		{"stray less-than is text", "a < b", 100, false, "a < b"},
		{"truncated", "<p>Hello world</p>", 5, false, "Hello"},
		{"truncated with ellipsis", "<p>Hello world</p>", 5, true, "Hello..."},
		{"cut at the space trims it", "<p>Hello world</p>", 6, true, "Hello..."},
		{"cut after the space", "<p>Hello world</p>", 7, true, "Hello w..."},
		{"exact length no ellipsis", "<p>Hello world</p>", 11, true, "Hello world"},
		{"trailing space does not count", "<p>Hello world</p>  ", 11, true, "Hello world"},
		{"runes not bytes", "héllo wörld", 4, true, "héll..."},
		{"unclosed skip hides the rest", "a<script>b", 100, false, "a"},
		{"empty", "", 10, true, ""},
		{"only tags", "<p><br></p>", 10, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := excerpt(tt.in, tt.max, tt.ellipsis); got != tt.want {
				t.Errorf("excerpt(%q, %d, %v) = %q, want %q", tt.in, tt.max, tt.ellipsis, got, tt.want)
			}
		})
	}
}

func TestExcerptModApply(t *testing.T) {
	var nilMod *excerptMod
	if got := nilMod.apply("<b>x</b>"); got != "<b>x</b>" {
		t.Errorf("nil modifier changed the value: %v", got)
	}
	m := &excerptMod{max: 2}
	if got := m.apply(12.5); got != 12.5 {
		t.Errorf("non-string changed: %v", got)
	}
	if got := m.apply("<i>abc</i>"); got != "ab" {
		t.Errorf("got %v", got)
	}
}

func TestExcerptLargeInputStopsEarly(t *testing.T) {
	in := strings.Repeat("<p>word</p>", 200000)
	got := excerpt(in, 9, true)
	if got != "word word..." {
		t.Errorf("got %q", got)
	}
}

func BenchmarkExcerpt(b *testing.B) {
	in := strings.Repeat("<p>Some <b>bold</b> text &amp; more.</p>", 50)
	for b.Loop() {
		_ = excerpt(in, 100, true)
	}
}
