package identifiers

import (
	"regexp"
	"strings"
	"testing"

	"github.com/seedrt/seed/errdefs"
)

func TestValidate(t *testing.T) {
	good := []string{
		"a", "A", "0", "default", "k8s.io", "moby", "c1", "foo_bar", "foo-bar", "foo.bar",
		"a.b_c-d", "1.2.3", "Mixed.Case-01", strings.Repeat("a", MaxLength),
	}
	for _, s := range good {
		if err := Validate(s); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", s, err)
		}
	}

	bad := []string{
		"", "../x", "..", ".", "a/b", "/a", "a\\b", "-a", "_a", ".a", "a-", "a.", "a_",
		"a..b", "a-_b", "a b", " a", "a\n", "a:b", "a@b", "héllo", "日本", "a\x00b",
		strings.Repeat("a", MaxLength+1),
	}
	for _, s := range bad {
		err := Validate(s)
		if err == nil {
			t.Errorf("Validate(%q) = nil, want error", s)
			continue
		}
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("Validate(%q) = %v, want ErrInvalidArgument", s, err)
		}
	}
}

// wellFormed agrees with the documented pattern on every short string over
// an alphabet with letters, digits, all three separators and others.
func TestWellFormedMatchesPattern(t *testing.T) {
	re := regexp.MustCompile(pattern)
	alphabet := []byte("aZ09._-/ ")
	var walk func(prefix []byte)
	walk = func(prefix []byte) {
		if got, want := wellFormed(string(prefix)), re.Match(prefix); got != want {
			t.Errorf("wellFormed(%q) = %v, the pattern says %v", prefix, got, want)
		}
		if len(prefix) == 5 {
			return
		}
		for _, c := range alphabet {
			walk(append(prefix, c))
		}
	}
	walk(nil)
}
