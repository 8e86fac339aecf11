package main

import (
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// buildRootfs makes a busybox root filesystem at root from the static
// busybox at bbPath: the binary, every applet hard linked to it (in its
// usual dir and in /bin), the usual mount point dirs and a few /etc files.
// All containers share it, mounted read-only.
func buildRootfs(root, bbPath string) error {
	if err := checkStatic(bbPath); err != nil {
		return err
	}
	out, err := exec.Command(bbPath, "--list-full").Output()
	if err != nil {
		return fmt.Errorf("%s --list-full: %w", bbPath, err)
	}
	applets := strings.Fields(string(out))

	dirs := []struct {
		path string
		perm os.FileMode
	}{
		{"bin", 0o755}, {"sbin", 0o755}, {"usr/bin", 0o755}, {"usr/sbin", 0o755},
		{"proc", 0o555}, {"sys", 0o555}, {"dev", 0o755}, {"run", 0o755},
		{"etc", 0o755}, {"root", 0o700}, {"home", 0o755}, {"var", 0o755},
		{"tmp", os.ModeSticky | 0o777}, {"var/tmp", os.ModeSticky | 0o777},
	}
	for _, d := range dirs {
		p := filepath.Join(root, d.path)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
		if err := os.Chmod(p, d.perm); err != nil {
			return err
		}
	}
	bb := filepath.Join(root, "bin", "busybox")
	if err := copyFile(bbPath, bb, 0o755); err != nil {
		return err
	}
	for _, a := range applets {
		rel := filepath.Clean(strings.TrimPrefix(a, "/"))
		for _, p := range []string{rel, filepath.Join("bin", filepath.Base(rel))} {
			dst := filepath.Join(root, p)
			if _, err := os.Lstat(dst); err == nil {
				continue
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return err
			}
			if err := os.Link(bb, dst); err != nil {
				return fmt.Errorf("link applet: %w", err)
			}
		}
	}
	files := map[string]string{
		"etc/passwd":   "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
		"etc/group":    "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
		"etc/hostname": "busybox\n",
		"etc/hosts":    "127.0.0.1\tlocalhost\n::1\tlocalhost\n",
	}
	for p, content := range files {
		if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// checkStatic rejects a dynamically linked busybox: the rootfs has no libc.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; install a static busybox (Debian: busybox-static)", path)
		}
	}
	return nil
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
