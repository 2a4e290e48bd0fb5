package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	appldBin  string
	buildErr  error
)

// appldBinary builds appld once per test run, for tests that need a real process (in a
// namespace, or to signal).
func appldBinary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "appld-test-")
		if err != nil {
			buildErr = err
			return
		}
		appldBin = filepath.Join(dir, "appld")
		args := []string{"build", "-o", appldBin}
		if os.Getenv("APPLD_RACE") != "" {
			// APPLD_RACE=1 GORACE=halt_on_error=1: the processes the tests start
			// stop at the first data race.
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("%s", out)
		}
	})
	if buildErr != nil {
		t.Fatalf("building appld: %v", buildErr)
	}
	return appldBin
}

func runCLI(args ...string) (int, string, string) {
	var o, e bytes.Buffer
	code := run(args, &o, &e)
	return code, o.String(), e.String()
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI("-v")
	if code != 0 || !strings.HasPrefix(out, "appld version ") {
		t.Fatalf("code %d out %q", code, out)
	}
}

func TestCheckEmbeddedDefault(t *testing.T) {
	code, out, errOut := runCLI("-c")
	if code != 0 || !strings.Contains(out, "Configuration file is valid") {
		t.Fatalf("code %d out %q err %q", code, out, errOut)
	}
}

func TestCheckReportsFileLine(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.cfg")
	if err := os.WriteFile(bad, []byte("frontend fe\n    bind 127.0.0.1:1\n    default_backend nowhere\n    bogus_directive 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI("-c", "-f", bad)
	if code != 1 {
		t.Fatalf("want exit 1, got %d (%s)", code, errOut)
	}
	for _, want := range []string{bad + ":4: bogus_directive", bad + ":3: default_backend"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("missing %q in:\n%s", want, errOut)
		}
	}
	if code, _, _ := runCLI("-c", "-f", filepath.Join(dir, "missing.cfg")); code != 1 {
		t.Fatalf("missing file: exit %d", code)
	}
}

func TestWitnessNeedsAFile(t *testing.T) {
	code, _, errOut := runCLI("--witness")
	if code != 1 || !strings.Contains(errOut, "--witness needs -f FILE") {
		t.Fatalf("code %d err %q", code, errOut)
	}
}
