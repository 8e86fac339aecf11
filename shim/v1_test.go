package shim

import (
	"context"
	"testing"
	"time"

	"github.com/gogo/protobuf/proto"
	ptypes "github.com/gogo/protobuf/types"

	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/shimapi/runcopts"
	"github.com/seedrt/seed/shimapi/runctypes"
	"github.com/seedrt/seed/shimapi/shimv1"
	"github.com/seedrt/seed/shimapi/task"
	tasktypes "github.com/seedrt/seed/shimapi/types/task"
)

// fakeTasks records what the adapter asks of the v2 service.
type fakeTasks struct {
	task.TaskService // methods not overridden panic
	created          *task.CreateTaskRequest
	started          []*task.StartRequest
	deleted          []*task.DeleteRequest
	killed           []*task.KillRequest
}

func (f *fakeTasks) Create(_ context.Context, r *task.CreateTaskRequest) (*task.CreateTaskResponse, error) {
	f.created = r
	return &task.CreateTaskResponse{Pid: 10}, nil
}

func (f *fakeTasks) Start(_ context.Context, r *task.StartRequest) (*task.StartResponse, error) {
	f.started = append(f.started, r)
	return &task.StartResponse{Pid: 11}, nil
}

func (f *fakeTasks) Delete(_ context.Context, r *task.DeleteRequest) (*task.DeleteResponse, error) {
	f.deleted = append(f.deleted, r)
	return &task.DeleteResponse{Pid: 10, ExitStatus: 3}, nil
}

func (f *fakeTasks) Kill(_ context.Context, r *task.KillRequest) (*ptypes.Empty, error) {
	f.killed = append(f.killed, r)
	return &ptypes.Empty{}, nil
}

func (f *fakeTasks) State(_ context.Context, r *task.StateRequest) (*task.StateResponse, error) {
	return &task.StateResponse{ID: r.ID, Pid: 10, Status: tasktypes.StatusRunning}, nil
}

func (f *fakeTasks) Pids(context.Context, *task.PidsRequest) (*task.PidsResponse, error) {
	b, _ := proto.Marshal(&runcopts.ProcessDetails{ExecID: "e1"})
	return &task.PidsResponse{Processes: []*tasktypes.ProcessInfo{
		{Pid: 10},
		{Pid: 12, Info: &ptypes.Any{TypeUrl: "containerd.runc.v1.ProcessDetails", Value: b}},
		{Pid: 13},
	}}, nil
}

func anyOf(t *testing.T, m proto.Message) *ptypes.Any {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return &ptypes.Any{TypeUrl: proto.MessageName(m), Value: b}
}

func TestV1CreateOptions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     V1Config
		runtime string
		opts    *ptypes.Any
		want    runcopts.Options
	}{
		{"defaults", V1Config{}, "", nil, runcopts.Options{Root: "/run/containerd/runc"}},
		{"flags", V1Config{RuntimeRoot: "/x/runc", Criu: "/bin/criu", SystemdCgroup: true}, "/usr/bin/crun", nil,
			runcopts.Options{BinaryName: "/usr/bin/crun", Root: "/x/runc", CriuPath: "/bin/criu", SystemdCgroup: true}},
		{"create options", V1Config{}, "runc", anyOf(t, &runctypes.CreateOptions{NoPivotRoot: true, NoNewKeyring: true, IoUid: 5}),
			runcopts.Options{BinaryName: "runc", Root: "/run/containerd/runc", NoPivotRoot: true, NoNewKeyring: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeTasks{}
			v := NewV1Service(f, tc.cfg, nil)
			resp, err := v.Create(context.Background(), &shimv1.CreateTaskRequest{ID: "c1", Bundle: "/b", Runtime: tc.runtime, Stdout: "/o", Options: tc.opts})
			if err != nil || resp.Pid != 10 {
				t.Fatalf("create: %v, %v", resp, err)
			}
			if f.created.ID != "c1" || f.created.Bundle != "/b" || f.created.Stdout != "/o" {
				t.Fatalf("v2 create request %+v", f.created)
			}
			if f.created.Options.TypeUrl != "containerd.runc.v1.Options" {
				t.Fatalf("options type %q", f.created.Options.TypeUrl)
			}
			var got runcopts.Options
			if err := proto.Unmarshal(f.created.Options.Value, &got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(&got, &tc.want) {
				t.Fatalf("runc options %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestV1CreateRejectsForeignOptionsAndSecondTask(t *testing.T) {
	ctx := context.Background()
	v := NewV1Service(&fakeTasks{}, V1Config{}, nil)
	_, err := v.Create(ctx, &shimv1.CreateTaskRequest{ID: "c1", Options: anyOf(t, &runcopts.Options{})})
	if !errdefs.IsInvalidArgument(err) {
		t.Fatalf("create with runc.v1.Options: %v, want invalid argument", err)
	}
	if _, err := v.Create(ctx, &shimv1.CreateTaskRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Create(ctx, &shimv1.CreateTaskRequest{ID: "c2"}); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("second create: %v, want already exists", err)
	}
}

func TestV1ProcessIDs(t *testing.T) {
	ctx := context.Background()
	f := &fakeTasks{}
	flushed := false
	v := NewV1Service(f, V1Config{}, func(time.Duration) bool { flushed = true; return true })
	if _, err := v.State(ctx, &shimv1.StateRequest{ID: "c1"}); !errdefs.IsNotFound(err) {
		t.Fatalf("state before create: %v, want not found", err)
	}
	if _, err := v.Create(ctx, &shimv1.CreateTaskRequest{ID: "c1"}); err != nil {
		t.Fatal(err)
	}
	s1, _ := v.Start(ctx, &shimv1.StartRequest{ID: "c1"})
	s2, _ := v.Start(ctx, &shimv1.StartRequest{ID: "e1"})
	if f.started[0].ID != "c1" || f.started[0].ExecID != "" || f.started[1].ID != "c1" || f.started[1].ExecID != "e1" {
		t.Fatalf("v2 start requests %v", f.started)
	}
	if s1.ID != "c1" || s2.ID != "e1" || s2.Pid != 11 {
		t.Fatalf("start responses %v %v", s1, s2)
	}
	v.Kill(ctx, &shimv1.KillRequest{Signal: 9, All: true})
	v.Kill(ctx, &shimv1.KillRequest{ID: "e1", Signal: 15})
	if k := f.killed; k[0].ID != "c1" || k[0].ExecID != "" || !k[0].All || k[1].ExecID != "e1" || k[1].Signal != 15 {
		t.Fatalf("v2 kill requests %v", k)
	}
	if _, err := v.DeleteProcess(ctx, &shimv1.DeleteProcessRequest{ID: "c1"}); !errdefs.IsInvalidArgument(err) {
		t.Fatalf("DeleteProcess of init: %v, want invalid argument", err)
	}
	if _, err := v.Exec(ctx, &shimv1.ExecProcessRequest{ID: "c1"}); !errdefs.IsAlreadyExists(err) {
		t.Fatalf("exec named like the init: %v, want already exists", err)
	}
	if _, err := v.DeleteProcess(ctx, &shimv1.DeleteProcessRequest{ID: "e1"}); err != nil || f.deleted[0].ExecID != "e1" {
		t.Fatalf("DeleteProcess e1: %v %v", err, f.deleted)
	}
	if flushed {
		t.Fatal("DeleteProcess flushed events")
	}

	pids, err := v.ListPids(ctx, &shimv1.ListPidsRequest{ID: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[uint32]string{10: "c1", 12: "e1", 13: ""}
	for _, p := range pids.Processes {
		got := ""
		if p.Info != nil {
			if p.Info.TypeUrl != "containerd.linux.runc.ProcessDetails" {
				t.Fatalf("pid %d info type %q", p.Pid, p.Info.TypeUrl)
			}
			var d runctypes.ProcessDetails
			proto.Unmarshal(p.Info.Value, &d)
			got = d.ExecID
		}
		if got != want[p.Pid] {
			t.Fatalf("pid %d names %q, want %q", p.Pid, got, want[p.Pid])
		}
	}

	del, err := v.Delete(ctx, &ptypes.Empty{})
	if err != nil || del.ExitStatus != 3 || f.deleted[1].ID != "c1" || f.deleted[1].ExecID != "" || !flushed {
		t.Fatalf("delete: %v %v %v flushed %v", del, err, f.deleted, flushed)
	}
	if info, _ := v.ShimInfo(ctx, &ptypes.Empty{}); info.ShimPid == 0 {
		t.Fatal("no shim pid")
	}
}
