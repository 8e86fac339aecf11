package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	ptypes "github.com/gogo/protobuf/types"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/seedrt/seed/errdefs"
)

// recordFile is the daemon's own record in a bundle: which runtime and shim
// binary serve it, so a restarted (or upgraded) daemon can find and clean up
// the shim without guessing.
const (
	recordFile    = "runtime.json"
	addressFile   = "address"
	deletedMarker = "deleted" // the task was deleted; only cleanup remains
	recordVersion = 1
)

// errNewerFormat marks a bundle written by a newer daemon: it is left
// alone rather than misread.
var errNewerFormat = errors.New("written by a newer daemon")

type bundleRecord struct {
	Version  int    `json:"version"`
	Runtime  string `json:"runtime"`
	Binary   string `json:"binary"`
	Protocol string `json:"protocol"`
	Runc     string `json:"runc,omitempty"`      // empty: runc on PATH
	RuncRoot string `json:"runc_root,omitempty"` // runc --root, before /NS
}

func (m *Manager) bundleDir(ns, id string) string {
	return filepath.Join(m.cfg.State, ns, id)
}

// writeBundle creates the bundle directory with config.json from the
// container's spec; a spec that is not a valid OCI spec is refused.
func writeBundle(dir string, spec *ptypes.Any, rec bundleRecord) error {
	if spec == nil || len(spec.Value) == 0 {
		return fmt.Errorf("container has no spec: %w", errdefs.ErrInvalidArgument)
	}
	var s specs.Spec
	if err := json.Unmarshal(spec.Value, &s); err != nil {
		return fmt.Errorf("container spec is not an OCI spec: %v: %w", err, errdefs.ErrInvalidArgument)
	}
	if s.Process == nil || len(s.Process.Args) == 0 {
		return fmt.Errorf("container spec has no process args: %w", errdefs.ErrInvalidArgument)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o711); err != nil {
		return fmt.Errorf("create bundle: %w", err)
	}
	if err := os.Mkdir(dir, 0o711); err != nil {
		return fmt.Errorf("create bundle: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), spec.Value, 0o600); err != nil {
		return fmt.Errorf("write bundle spec: %w", err)
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, recordFile), b, 0o600); err != nil {
		return fmt.Errorf("write bundle record: %w", err)
	}
	return nil
}

func readBundleRecord(dir string) (bundleRecord, error) {
	var rec bundleRecord
	b, err := os.ReadFile(filepath.Join(dir, recordFile))
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("decode %s: %w", recordFile, err)
	}
	if rec.Version > recordVersion {
		return rec, fmt.Errorf("%s format version %d is newer than this daemon knows (%d): %w", recordFile, rec.Version, recordVersion, errNewerFormat)
	}
	return rec, nil
}

func readAddress(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, addressFile))
	if err != nil {
		return "", err
	}
	if len(b) == 0 {
		return "", errors.New("empty address file")
	}
	return string(b), nil
}
