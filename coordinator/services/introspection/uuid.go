package introspection

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// uuidFile is the name of the file, in the daemon's root, that holds its
// UUID: the canonical text form, without a newline, as containerd writes.
const uuidFile = "uuid"

var uuidRe = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// loadUUID returns the UUID stored in root, first storing a new random one
// if there is none.
func loadUUID(root string) (string, error) {
	path := filepath.Join(root, uuidFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createUUID(root)
	}
	if err != nil {
		return "", fmt.Errorf("read daemon UUID: %w", err)
	}
	u := strings.TrimSpace(string(data))
	if !uuidRe.MatchString(u) {
		return "", fmt.Errorf("invalid daemon UUID %q in %s", u, path)
	}
	return u, nil
}

// createUUID stores a new random UUID in root, atomically: a crash leaves
// either no file or a complete one.
func createUUID(root string) (string, error) {
	u, err := newUUID()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("create daemon root: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(root, uuidFile), []byte(u)); err != nil {
		return "", fmt.Errorf("store daemon UUID: %w", err)
	}
	return u, nil
}

// newUUID returns a random (version 4, RFC 4122) UUID.
func newUUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate daemon UUID: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// writeFileAtomic writes data to a temporary file next to path, syncs it,
// renames it to path and syncs the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // fails harmlessly once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
