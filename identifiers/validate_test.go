package identifiers

import (
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
