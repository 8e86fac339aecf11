package oci

import (
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BusyboxApplets checks that the busybox at path can make a root
// filesystem and lists its applets, as paths relative to / ("usr/bin/awk").
func BusyboxApplets(path string) ([]string, error) {
	if err := checkStatic(path); err != nil {
		return nil, err
	}
	out, err := exec.Command(path, "--list-full").Output()
	if err != nil {
		return nil, fmt.Errorf("%s --list-full: %w", path, err)
	}
	return strings.Fields(string(out)), nil
}

// checkStatic rejects a dynamically linked busybox: the rootfs has no
// libc, so it would fail with a confusing "no such file" inside the
// container.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", path, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked; install a static busybox (e.g. Debian's busybox-static)", path)
		}
	}
	return nil
}

// BuildBusyboxRootfs makes a root filesystem at root from the static busybox
// at bbPath: a private copy of the binary (a container writing to its
// /bin/busybox must not modify the host's) with every applet of applets
// (see BusyboxApplets) hard linked to it, in its usual dir and in /bin, the
// usual mount point dirs, and /etc/passwd, group, hostname and hosts.
func BuildBusyboxRootfs(root, bbPath string, applets []string) error {
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
			return fmt.Errorf("create rootfs dir: %w", err)
		}
		// Chmod because MkdirAll's mode is filtered by the umask and
		// cannot set the sticky bit.
		if err := os.Chmod(p, d.perm); err != nil {
			return fmt.Errorf("chmod rootfs dir: %w", err)
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
				continue // e.g. bin/sh listed twice, or the busybox binary itself
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return fmt.Errorf("create applet dir: %w", err)
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
			return fmt.Errorf("write rootfs file: %w", err)
		}
	}
	return nil
}

func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy to %s: %w", dst, err)
	}
	return nil
}
