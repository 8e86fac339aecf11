package events

import (
	"testing"
	"time"

	"github.com/seedrt/seed/coordinator/filters"
	shimevents "github.com/seedrt/seed/shimapi/events"
	"github.com/seedrt/seed/shimapi/typeurl"
)

func exitEnvelope(t *testing.T, ns, topic, container string) *Envelope {
	t.Helper()
	a, err := typeurl.MarshalAny(&shimevents.TaskExit{ContainerID: container, ID: container, Pid: 42})
	if err != nil {
		t.Fatal(err)
	}
	return &Envelope{Timestamp: time.Now(), Namespace: ns, Topic: topic, Event: a}
}

func TestFilterMatch(t *testing.T) {
	exit := exitEnvelope(t, "default", "/tasks/exit", "c1")
	other := exitEnvelope(t, "k8s.io", "/containers/create", "c2")

	for _, tc := range []struct {
		filters     []string
		exit, other bool
	}{
		{nil, true, true},
		{[]string{""}, true, true},
		{[]string{`topic=="/tasks/exit"`}, true, false},
		{[]string{`topic == "/tasks/exit"`}, true, false},
		{[]string{`topic==/tasks/exit`}, true, false},
		{[]string{`topic!="/tasks/exit"`}, false, true},
		{[]string{`topic~="^/tasks/"`}, true, false},
		{[]string{`topic~=/^\/tasks\/.*/`}, true, false},
		{[]string{`topic~=|^/containers/|`}, false, true},
		{[]string{`topic~="exit|create"`}, true, true},
		{[]string{`namespace==default`}, true, false},
		{[]string{`namespace=="k8s.io"`}, false, true},
		{[]string{`namespace==k8s.io`}, false, true},
		{[]string{`namespace`}, true, true},
		{[]string{`topic`}, true, true},
		{[]string{`nosuchfield`}, false, false},
		{[]string{`nosuchfield!=x`}, true, true},
		{[]string{`namespace==default,topic=="/tasks/exit"`}, true, false},
		{[]string{`namespace==default,topic=="/containers/create"`}, false, false},
		{[]string{`namespace==default`, `topic~="/containers/"`}, true, true},
		{[]string{`namespace==nope`, `topic==/nope`}, false, false},
		{[]string{`event.container_id==c1`}, true, false},
		{[]string{`event."container_id"=="c2"`}, false, true},
		{[]string{`event.container_id`}, true, true},
		{[]string{`event.pid==42`}, false, false}, // only string fields
		{[]string{`event.nope==c1`}, false, false},
	} {
		f, err := filters.Parse(tc.filters...)
		if err != nil {
			t.Errorf("filters.Parse(%q): %v", tc.filters, err)
			continue
		}
		if got := f.Match(exit.field); got != tc.exit {
			t.Errorf("%q matches exit = %v, want %v", tc.filters, got, tc.exit)
		}
		if got := f.Match(other.field); got != tc.other {
			t.Errorf("%q matches other = %v, want %v", tc.filters, got, tc.other)
		}
	}
}
