package version

import (
	"regexp"
	"testing"
)

// The version must stay semver with the containerd API level first.
func TestFormat(t *testing.T) {
	t.Logf("Version %q, Revision %q", Version, Revision)
	if !regexp.MustCompile(`^1\.6\.\d+\+seed[0-9A-Za-z.-]*$`).MatchString(Version) {
		t.Errorf("Version %q is not 1.6.N+seed...", Version)
	}
	if Revision == "" {
		t.Error("Revision is empty")
	}
}
