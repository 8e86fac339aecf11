package shim

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Files the shim keeps in the bundle directory (see PROTOCOL.md). The daemon
// finds a shim again through them after a restart, and `delete` reports a
// dead shim's exit status from them.
const (
	addressFile = "address"      // unix://SOCKET, as printed by start
	recordFile  = "shim.json"    // shimRecord
	optionsFile = "options.json" // runcOptions chosen at create
	initPidFile = "init.pid"     // written by runc
	exitsDir    = "exits"        // one exitRecord per exited process
	rootfsDir   = "rootfs"
)

// recordVersion versions every JSON file the shim writes, so a later build
// detects a format it does not know instead of misreading it.
const recordVersion = 1

// shimRecord tells a daemon (maybe a newer build than the one that started
// the shim) which binary serves this bundle and which protocol it speaks.
type shimRecord struct {
	Version  int    `json:"version"`
	Binary   string `json:"binary"`
	Protocol string `json:"protocol"` // "v2" or "v1"
	Address  string `json:"address"`
	Pid      int    `json:"pid"`
}

// runcOptions are the OCI runtime settings a container was created with;
// delete needs them after the shim is gone.
type runcOptions struct {
	Version       int    `json:"version"`
	Binary        string `json:"binary"`
	Root          string `json:"root"`
	SystemdCgroup bool   `json:"systemd_cgroup,omitempty"`
	Criu          string `json:"criu,omitempty"`
	NoPivot       bool   `json:"no_pivot,omitempty"`
	NoNewKeyring  bool   `json:"no_new_keyring,omitempty"`
}

// exitRecord is a process's exit, written before the exit is published.
type exitRecord struct {
	Version  int       `json:"version"`
	Seq      uint64    `json:"seq"`
	ID       string    `json:"id"` // exec id, empty for init
	Pid      int       `json:"pid"`
	Status   int       `json:"status"`
	ExitedAt time.Time `json:"exited_at"`
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	return writeFileAtomic(path, b, 0o600)
}

// readJSON decodes a versioned file, refusing versions from the future.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	if head.Version > recordVersion {
		return fmt.Errorf("%s has format version %d, newer than this shim knows (%d)", path, head.Version, recordVersion)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

func exitPath(bundle, execID string) string {
	name := "init"
	if execID != "" {
		name = "exec-" + execID
	}
	return filepath.Join(bundle, exitsDir, name+".json")
}

func saveExit(bundle string, rec exitRecord) error {
	if err := os.MkdirAll(filepath.Join(bundle, exitsDir), 0o700); err != nil {
		return fmt.Errorf("record exit: %w", err)
	}
	rec.Version = recordVersion
	b, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode exit record: %w", err)
	}
	return writeFileDurable(exitPath(bundle, rec.ID), b, 0o600)
}

// loadExit returns the recorded exit of a process, or ok=false if it has none.
func loadExit(bundle, execID string) (rec exitRecord, ok bool, err error) {
	err = readJSON(exitPath(bundle, execID), &rec)
	if errors.Is(err, os.ErrNotExist) {
		return rec, false, nil
	}
	return rec, err == nil, err
}

func loadOptions(bundle string) (runcOptions, error) {
	var o runcOptions
	err := readJSON(filepath.Join(bundle, optionsFile), &o)
	return o, err
}
