package shim

import (
	"fmt"
	"os"
	"path/filepath"
)

// Bundle files are replaced atomically (temp file, rename), so a reader, or
// a process killed mid-write, sees the old file or the whole new one. That
// is all the state directory needs: it is volatile (containerd keeps it on
// tmpfs), and no process outlives a machine crash anyway. Exit records are
// also made durable (fsync of the file and the directory), since an exit
// status is what a client cannot ask for twice.

// writeFileAtomic replaces path with data.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return replaceFile(path, data, perm, false)
}

// writeFileDurable replaces path with data and makes it durable.
func writeFileDurable(path string, data []byte, perm os.FileMode) error {
	return replaceFile(path, data, perm, true)
}

func replaceFile(path string, data []byte, perm os.FileMode, durable bool) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Chmod(perm); err != nil { // CreateTemp's 0600 is subject to the umask
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if durable {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return fmt.Errorf("sync %s: %w", path, err)
		}
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	renamed = true
	if durable {
		return syncDir(dir)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}
