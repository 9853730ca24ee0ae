package iam_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hanzoai/base/iam"
)

// openIssuer opens the dev issuer of dir or fails the test.
func openIssuer(tb testing.TB, dir, defaultIssuer string) *iam.DevIssuer {
	tb.Helper()
	d, err := iam.OpenDevIssuer(dir, defaultIssuer)
	if err != nil {
		tb.Fatalf("OpenDevIssuer(%q, %q): %v", dir, defaultIssuer, err)
	}
	return d
}

func TestOpenDevIssuerCreatesThenReloads(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "base_data") // does not exist yet
	d := openIssuer(t, dir, "http://127.0.0.1:8090/")
	if got, want := d.Issuer(), "http://127.0.0.1:8090"; got != want {
		t.Errorf("Issuer() = %q, want %q (trailing slash dropped)", got, want)
	}
	if d.KeyID() == "" || len(d.PublicKeys()) != 1 || d.PublicKeys()[d.KeyID()] == nil {
		t.Fatalf("KeyID %q, PublicKeys %v", d.KeyID(), d.PublicKeys())
	}

	st, err := os.Stat(filepath.Join(dir, "iam"))
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o700 {
		t.Errorf("iam dir mode %v, want 0700", perm)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "iam"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("iam dir holds %v, want one file (no temporary files left)", entries)
	}
	for _, e := range entries {
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if perm := info.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s mode %v, want 0600", e.Name(), perm)
		}
	}

	// Reopening ignores the new default issuer and keeps the key; it is
	// fast (best of 5, to ignore a loaded machine).
	var again *iam.DevIssuer
	best := time.Hour
	for range 5 {
		start := time.Now()
		again = openIssuer(t, dir, "http://0.0.0.0:9999")
		best = min(best, time.Since(start))
	}
	if best > 20*time.Millisecond {
		t.Errorf("reopening took %v, want a few hundred µs", best)
	}
	if again.Issuer() != d.Issuer() || again.KeyID() != d.KeyID() {
		t.Fatalf("reopened issuer %q kid %q, want %q %q", again.Issuer(), again.KeyID(), d.Issuer(), d.KeyID())
	}
}

func TestOpenDevIssuerErrors(t *testing.T) {
	for _, issuer := range []string{"", "127.0.0.1:8090", "ftp://x", "http://", "http://h/?q=1"} {
		if _, err := iam.OpenDevIssuer(t.TempDir(), issuer); err == nil {
			t.Errorf("OpenDevIssuer accepted default issuer %q", issuer)
		}
	}
	dir := t.TempDir()
	openIssuer(t, dir, "http://127.0.0.1:8090")
	path := filepath.Join(dir, "iam", "dev-issuer.json")
	if err := os.WriteFile(path, []byte(`{"issuer":"http://127.0.0.1:8090","privateKey":"junk"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := iam.OpenDevIssuer(dir, "http://127.0.0.1:8090"); err == nil {
		t.Fatal("OpenDevIssuer accepted a corrupt key file")
	}
}

func TestOpenDevIssuerConcurrentGoroutines(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	got := make([]*iam.DevIssuer, 8)
	for i := range got {
		wg.Go(func() {
			d, err := iam.OpenDevIssuer(dir, fmt.Sprintf("http://127.0.0.1:%d", 8000+i))
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = d
		})
	}
	wg.Wait()
	for _, d := range got[1:] {
		if d == nil || got[0] == nil {
			t.FailNow()
		}
		if d.KeyID() != got[0].KeyID() || d.Issuer() != got[0].Issuer() {
			t.Fatalf("racing opens disagree: %q %q vs %q %q", d.Issuer(), d.KeyID(), got[0].Issuer(), got[0].KeyID())
		}
	}
}

// TestOpenDevIssuerHelperProcess is the child of
// TestOpenDevIssuerConcurrentProcesses; it does nothing when run directly.
func TestOpenDevIssuerHelperProcess(t *testing.T) {
	dir := os.Getenv("IAM_TEST_HELPER_DIR")
	if dir == "" {
		return
	}
	d, err := iam.OpenDevIssuer(dir, os.Getenv("IAM_TEST_HELPER_ISSUER"))
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(1)
	}
	fmt.Printf("%s %s\n", d.Issuer(), d.KeyID())
	os.Exit(0)
}

func TestOpenDevIssuerConcurrentProcesses(t *testing.T) {
	dir := t.TempDir()
	const n = 4
	outs := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			cmd := exec.Command(os.Args[0], "-test.run=^TestOpenDevIssuerHelperProcess$")
			cmd.Env = append(os.Environ(),
				"IAM_TEST_HELPER_DIR="+dir,
				fmt.Sprintf("IAM_TEST_HELPER_ISSUER=http://127.0.0.1:%d", 8100+i))
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("helper %d: %v: %s", i, err, out)
			}
			outs[i] = strings.TrimSpace(string(out))
		})
	}
	wg.Wait()
	for i, out := range outs {
		if out == "" || out != outs[0] {
			t.Fatalf("process %d opened %q, process 0 %q", i, out, outs[0])
		}
	}
	d := openIssuer(t, dir, "http://ignored:1")
	if want := d.Issuer() + " " + d.KeyID(); outs[0] != want {
		t.Fatalf("processes opened %q, the directory holds %q", outs[0], want)
	}
}

func BenchmarkOpenDevIssuerExisting(b *testing.B) {
	dir := b.TempDir()
	openIssuer(b, dir, "http://127.0.0.1:8090")
	for b.Loop() {
		openIssuer(b, dir, "http://127.0.0.1:8090")
	}
}
