package shim

import (
	"os"
	"path/filepath"
	"testing"
)

func TestHasPoststartHooks(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		want       bool
	}{
		{"no hooks", `{"process":{"args":["sh"]}}`, false},
		{"other hooks", `{"hooks":{"prestart":[{"path":"/bin/true"}]}}`, false},
		{"poststart", `{"hooks":{"poststart":[{"path":"/bin/true"}]}}`, true},
		{"empty poststart", `{"hooks":{"poststart":[]}}`, false},
		{"the word elsewhere", `{"process":{"args":["echo","\"poststart\""]}}`, false},
		{"unreadable", `{"hooks":{"poststart":`, true},
		{"key in other case", `{"hooks":{"Poststart":[{"path":"/bin/true"}]}}`, true},
		{"escaped key", `{"hooks":{"post\u0073tart":[{"path":"/bin/true"}]}}`, true},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tc.spec), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := hasPoststartHooks(dir); got != tc.want {
			t.Errorf("%s: hasPoststartHooks = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !hasPoststartHooks(t.TempDir()) {
		t.Error("a bundle without config.json: want true (runc decides)")
	}
}
