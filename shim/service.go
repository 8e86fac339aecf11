// Package shim is the task service that runs inside a containerd-shim
// process: it owns one container's runc processes, their stdio, and the
// recording and publishing of their exits.
package shim

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	runc "github.com/containerd/go-runc"
	"github.com/gogo/protobuf/proto"

	"github.com/seedrt/seed/errdefs"
	"github.com/seedrt/seed/reaper"
	"github.com/seedrt/seed/sealedexe"
)

// DefaultDrain bounds how long a finished process's output is still copied
// while a background child holds it open.
const DefaultDrain = 500 * time.Millisecond

// Config is what a shim is started with.
type Config struct {
	Namespace string
	Bundle    string
	Drain     time.Duration // see DefaultDrain
	// Runc is a sealed copy of the runc binary inherited from the daemon
	// (package sealedexe), or nil.
	Runc *sealedexe.Inherited
}

// EventPublisher is where the task service sends its events: Publisher
// (v2, ttrpc to the daemon) or ExecPublisher (v1, the daemon's `publish`
// command). Publish must not block on delivery; before, if set, runs with
// the event's sequence number before the event is queued.
type EventPublisher interface {
	Publish(topic string, event proto.Message, before func(seq uint64) error) error
}

// Service implements the task API for the containers of one shim.
type Service struct {
	cfg    Config
	reaper *reaper.Reaper
	pub    EventPublisher

	mu         sync.Mutex
	containers map[string]*container
	creating   map[string]bool

	trim trimmer

	runcRelinked sync.Once // see checkRunc

	// exit is called once the shim has nothing left to do (Shutdown).
	exit func()
}

// checkRunc notices a runc upgrade on disk while the shim runs from the
// inherited sealed copy: it points the containers' runc links at the binary
// on disk, so later runc commands (exec, kill, delete...) use the upgraded
// runc, as they would without the copy. Create checks by itself (For). It
// is a stat, done before every request.
func (s *Service) checkRunc() {
	in := s.cfg.Runc
	if in == nil || in.Current() {
		return
	}
	s.runcRelinked.Do(func() {
		s.mu.Lock()
		var bundles []string
		for _, c := range s.containers {
			bundles = append(bundles, c.bundle)
		}
		s.mu.Unlock()
		for _, b := range bundles {
			if err := in.Relink(b); err != nil {
				logf("runc upgraded on disk, but %s still runs the old copy: %v", b, err)
			}
		}
	})
}

// NewService returns the task service. r must already be collecting exits
// and be installed as go-runc's monitor.
func NewService(cfg Config, r *reaper.Reaper, pub EventPublisher, exit func()) *Service {
	if cfg.Drain == 0 {
		cfg.Drain = DefaultDrain
	}
	return &Service{
		cfg:        cfg,
		reaper:     r,
		pub:        pub,
		containers: make(map[string]*container),
		creating:   make(map[string]bool),
		exit:       exit,
	}
}

// InstallReaper makes this process a subreaper and routes go-runc's
// commands through a reaper. Call once, first.
func InstallReaper() (*reaper.Reaper, error) {
	if err := reaper.SetSubreaper(); err != nil {
		return nil, err
	}
	r := reaper.New()
	runc.Monitor = r.Monitor()
	return r, nil
}

func (s *Service) container(id string) (*container, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.containers[id]
	if !ok {
		return nil, fmt.Errorf("task %q: %w", id, errdefs.ErrNotFound)
	}
	return c, nil
}

func (s *Service) lookup(id, execID string) (*container, *process, error) {
	c, err := s.container(id)
	if err != nil {
		return nil, nil, err
	}
	p, err := c.process(execID)
	if err != nil {
		return nil, nil, err
	}
	return c, p, nil
}

// reserve claims an id for a create in progress, so two concurrent creates
// of one id cannot both proceed.
func (s *Service) reserve(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.containers[id]; ok || s.creating[id] {
		return fmt.Errorf("task %q: %w", id, errdefs.ErrAlreadyExists)
	}
	s.creating[id] = true
	return nil
}

func (s *Service) finishCreate(id string, c *container) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.creating, id)
	if c != nil {
		s.containers[id] = c
	}
}

func (s *Service) remove(id string) {
	s.mu.Lock()
	delete(s.containers, id)
	s.mu.Unlock()
}

func (s *Service) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.containers) + len(s.creating)
}

// logf writes to the shim's log (its stderr: the bundle's log FIFO).
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().UTC().Format(time.RFC3339Nano)+" "+format+"\n", args...)
}

// runcContext is what runc commands run under: not the request's context,
// so a client that hangs up cannot kill runc halfway through a create or a
// delete and leave the container half made.
func runcContext() context.Context { return context.Background() }
