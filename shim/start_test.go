package shim

import (
	"os"
	"path/filepath"
	"testing"
)

func TestReadSpecHooks(t *testing.T) {
	for _, tc := range []struct {
		name, spec string
		want       specHooks
	}{
		{"no hooks", `{"process":{"args":["sh"]}}`, specHooks{}},
		{"other hooks", `{"hooks":{"prestart":[{"path":"/bin/true"}]}}`, specHooks{any: true}},
		{"createRuntime", `{"hooks":{"createRuntime":[{"path":"/bin/true"}]}}`, specHooks{any: true}},
		{"poststart", `{"hooks":{"poststart":[{"path":"/bin/true"}]}}`, specHooks{any: true, poststart: true}},
		{"empty poststart", `{"hooks":{"poststart":[]}}`, specHooks{}},
		{"the word elsewhere", `{"process":{"args":["echo","\"hooks\" \"poststart\""]}}`, specHooks{}},
		{"unreadable", `{"hooks":{"poststart":`, specHooks{any: true, poststart: true}},
		{"key in other case", `{"hooks":{"Poststart":[{"path":"/bin/true"}]}}`, specHooks{any: true, poststart: true}},
		{"escaped key", `{"hooks":{"post\u0073tart":[{"path":"/bin/true"}]}}`, specHooks{any: true, poststart: true}},
	} {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(tc.spec), 0o600); err != nil {
			t.Fatal(err)
		}
		if got := readSpecHooks(dir); got != tc.want {
			t.Errorf("%s: readSpecHooks = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	if got := readSpecHooks(t.TempDir()); got != (specHooks{any: true, poststart: true}) {
		t.Errorf("a bundle without config.json: %+v, want both (runc decides)", got)
	}
}
