package shim

import (
	"os"
	"slices"
	"testing"
)

// The shim runs with its own Go settings; its children get the launcher's.
func TestShimEnvKeepsTheLaunchersGoSettingsForChildren(t *testing.T) {
	for _, tc := range []struct {
		name     string
		launcher []string
		child    map[string]string // "" = unset
	}{
		{"none", []string{"PATH=/bin"}, map[string]string{"GOMAXPROCS": "", "GOGC": ""}},
		{"set", []string{"GOGC=200", "PATH=/bin", "GOMAXPROCS=4"}, map[string]string{"GOMAXPROCS": "4", "GOGC": "200"}},
		{"relaunched", []string{"GOMAXPROCS=1", "GOGC=50", childEnvVar + "=GOGC=7"}, map[string]string{"GOMAXPROCS": "1", "GOGC": "50"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := shimEnv(tc.launcher)
			for _, want := range []string{"PATH=/bin", "GOMAXPROCS=1", "GOGC=50"} {
				if tc.name != "relaunched" && !slices.Contains(env, want) {
					t.Errorf("shim env %q lacks %s", env, want)
				}
			}
			// Become that shim, as far as the environment goes.
			for _, k := range []string{"GOMAXPROCS", "GOGC", childEnvVar} {
				t.Setenv(k, "")
				os.Unsetenv(k)
			}
			for _, kv := range env {
				for _, k := range []string{"GOMAXPROCS", "GOGC", childEnvVar} {
					if len(kv) > len(k) && kv[:len(k)+1] == k+"=" {
						os.Setenv(k, kv[len(k)+1:])
					}
				}
			}
			restoreChildEnv()
			for k, want := range tc.child {
				got, ok := os.LookupEnv(k)
				if want == "" && ok || want != "" && got != want {
					t.Errorf("child %s = %q (set %v), want %q", k, got, ok, want)
				}
			}
			if _, ok := os.LookupEnv(childEnvVar); ok {
				t.Errorf("%s left for the children", childEnvVar)
			}
		})
	}
}
