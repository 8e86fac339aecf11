package filters

import (
	"strings"
	"testing"

	"github.com/seedrt/seed/errdefs"
)

type object struct {
	id, image, runtime string
	labels             map[string]string
}

func (o object) fields(path []string) (string, bool) {
	switch path[0] {
	case "id":
		return o.id, o.id != ""
	case "image":
		return o.image, o.image != ""
	case "runtime":
		if len(path) == 2 && path[1] == "name" {
			return o.runtime, o.runtime != ""
		}
	case "labels":
		return Label(path[1:], o.labels)
	}
	return "", false
}

var objects = []object{
	{id: "a", image: "docker.io/library/busybox:latest", runtime: "io.containerd.runc.v2",
		labels: map[string]string{"app": "web", "x.y": "dotted"}},
	{id: "b", runtime: "io.containerd.runc.v1", labels: map[string]string{"app": "db"}},
	{id: "c-1", image: "alpine", runtime: "io.containerd.runc.v2"},
}

func matching(t *testing.T, filters ...string) string {
	t.Helper()
	f, err := Parse(filters...)
	if err != nil {
		t.Fatalf("Parse(%q): %v", filters, err)
	}
	var ids []string
	for _, o := range objects {
		if f.Match(o.fields) {
			ids = append(ids, o.id)
		}
	}
	return strings.Join(ids, " ")
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		filters []string
		want    string
	}{
		{nil, "a b c-1"},
		{[]string{""}, "a b c-1"},
		{[]string{"id==a"}, "a"},
		{[]string{"id==c-1"}, "c-1"},
		{[]string{" id == a "}, "a"},
		{[]string{`id=="c-1"`}, "c-1"},
		{[]string{"id!=a"}, "b c-1"},
		{[]string{"image==docker.io/library/busybox:latest"}, "a"},
		{[]string{"image"}, "a c-1"},
		{[]string{"image!=alpine"}, "a b"},
		{[]string{"runtime.name==io.containerd.runc.v2"}, "a c-1"},
		{[]string{"labels.app==web"}, "a"},
		{[]string{`labels."app"==db`}, "b"},
		{[]string{`labels."x.y"==dotted`}, "a"},
		{[]string{`labels.x.y==dotted`}, "a"},
		{[]string{"labels.app"}, "a b"},
		{[]string{"labels"}, ""},
		{[]string{"runtime.name==io.containerd.runc.v2,labels.app==web"}, "a"},
		{[]string{"runtime.name==io.containerd.runc.v2,labels.app==db"}, ""},
		{[]string{"id==a", "id==b"}, "a b"},
		{[]string{"id==a", ""}, "a b c-1"},
		{[]string{"id~=^c-"}, "c-1"},
		{[]string{"id~=/^[ab]$/"}, "a b"},
		{[]string{`image~=|busy|`}, "a"},
		{[]string{`labels.app~="^(web|db)$"`}, "a b"},
		{[]string{"nosuchfield==x"}, ""},
		{[]string{`id=="\u0061"`}, "a"},
	} {
		if got := matching(t, tc.filters...); got != tc.want {
			t.Errorf("filters %q matched %q, want %q", tc.filters, got, tc.want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, s := range []string{
		"==a", "id==", "id=a", "id<>a", "id==a,", ",id==a", "id==a b", "id.==a",
		`labels."unterminated==a`, `id=="bad\q"`, "id~=(", "id~=/unterminated",
		"id==a,,id==b", "lab els==a", "labels.\"k\"x==a",
		"id===a", "id=!a", "id..a", "id.", "id-x==a", "id==\xff",
		`id==/a/,labels.app~="["`,
	} {
		_, err := Parse("id==ok", s)
		if !errdefs.IsInvalidArgument(err) {
			t.Errorf("Parse(%q): got %v, want an invalid argument error", s, err)
		}
	}
	// A bad filter is reported even after one that matches everything.
	if _, err := Parse("", "=="); !errdefs.IsInvalidArgument(err) {
		t.Errorf(`Parse("", "=="): got %v`, err)
	}
}

func TestNilFilterMatches(t *testing.T) {
	var f *Filter
	if !f.Match(objects[0].fields) {
		t.Fatal("nil filter did not match")
	}
}
