package metadata

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The crash test re-executes the test binary as a child that writes to the
// store in a loop, kills it with SIGKILL at a random moment, and checks that
// the store reopens with every record whole and every acknowledged write
// present.
const (
	envCrashDB    = "SEED_METADATA_CRASH_DB"
	envCrashStart = "SEED_METADATA_CRASH_START"
)

func TestCrashSafety(t *testing.T) {
	if path := os.Getenv(envCrashDB); path != "" {
		start, _ := strconv.Atoi(os.Getenv(envCrashStart))
		crashChild(path, start)
		return
	}

	path := filepath.Join(t.TempDir(), "meta.db")
	acked := map[string]bool{} // created and never (attempted to be) deleted
	next := 0
	for round := range 5 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashSafety$")
		cmd.Env = append(os.Environ(), envCrashDB+"="+path, envCrashStart+"="+strconv.Itoa(next))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()

		// Kill at a random moment after the child's first committed write.
		var kill <-chan time.Time
		for line := range lines {
			if kill == nil {
				kill = time.After(time.Duration(mrand.IntN(300)) * time.Millisecond)
				go func() { <-kill; cmd.Process.Kill() }()
			}
			op, id, _ := strings.Cut(line, " ")
			switch op {
			case "created":
				acked[id] = true
			case "deleting":
				delete(acked, id)
			}
		}
		err = cmd.Wait()
		if err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("round %d: child did not die by SIGKILL: %v", round, err)
		}
		next += 100000
		verifyStore(t, path, acked)
	}
}

// crashChild writes to the store until killed: creates containers whose
// spec is random data of random size, with its hash in a label, updates
// some (spec and hash together), deletes some, and reports each committed
// create on stdout.
func crashChild(path string, start int) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(2)
	}
	db, err := Open(path)
	if err != nil {
		fail(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := start; time.Now().Before(deadline); i++ {
		id := fmt.Sprintf("c%d", i)
		c := testContainer(id)
		setRandomSpec(&c)
		if _, err := db.CreateContainer("crash", c); err != nil {
			fail(err)
		}
		fmt.Println("created", id)
		if err := db.SetContainerExtra("crash", id, "sha", []byte(c.Labels["sha"])); err != nil {
			fail(err)
		}
		switch (i - start) % 3 {
		case 1:
			setRandomSpec(&c)
			if _, err := db.UpdateContainer("crash", c, "spec", "labels.sha"); err != nil {
				fail(err)
			}
		case 2:
			old := fmt.Sprintf("c%d", i-1)
			fmt.Println("deleting", old)
			if err := db.DeleteContainer("crash", old); err != nil {
				fail(err)
			}
		}
	}
	os.Exit(3) // never killed: the parent fails the test
}

func setRandomSpec(c *Container) {
	data := make([]byte, 1+mrand.IntN(64<<10))
	rand.Read(data)
	sum := sha256.Sum256(data)
	c.Spec = &Any{TypeURL: "random", Value: data}
	c.Labels["sha"] = hex.EncodeToString(sum[:])
}

func verifyStore(t *testing.T, path string, acked map[string]bool) {
	t.Helper()
	db, err := Open(path)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()

	if err := db.bolt.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Fatalf("bbolt consistency check: %v", err)
	}

	list, err := db.ListContainers("crash", nil)
	if err != nil {
		t.Fatalf("list after kill: %v", err)
	}
	found := map[string]bool{}
	for _, c := range list {
		found[c.ID] = true
		sum := sha256.Sum256(c.Spec.Value)
		if hex.EncodeToString(sum[:]) != c.Labels["sha"] || c.Runtime.Name == "" || c.CreatedAt.IsZero() {
			t.Fatalf("container %s is not whole: spec %d bytes, labels %v", c.ID, len(c.Spec.Value), c.Labels)
		}
		if v, err := db.GetContainerExtra("crash", c.ID, "sha"); err == nil && len(v) != sha256.Size*2 {
			t.Fatalf("extra of container %s is not whole: %q", c.ID, v)
		}
	}
	for id := range acked {
		if !found[id] {
			t.Fatalf("acknowledged container %s is missing after kill", id)
		}
	}
	t.Logf("store holds %d whole containers, %d acknowledged", len(list), len(acked))
}
