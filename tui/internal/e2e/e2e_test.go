// Package e2e drives a real monogres-like binary in a real terminal (tmux)
// and checks what a user sees: the matrix, a build, the lock diff, and that
// the terminal is restored on exit.
//
// By default it builds ./fakemonogres (tui.Run over a fake engine). Set
// MONOGRES_E2E_BIN to a binary that understands `BIN lock` and `BIN tui` in a
// directory holding monogres.toml to run the same script against it.
package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/tmuxtest"
)

const manifestV1 = `[postgres]
versions = ["17.0", "15.18"]
option_sets = ["barebones", "regular"]
arches = ["amd64", "arm64"]

[[extension]]
name = "pg_similarity"
version = "1.0"
`

// manifestV2 bumps Postgres 17 and pg_similarity.
var manifestV2 = strings.NewReplacer(`"17.0"`, `"17.2"`, `version = "1.0"`, `version = "1.1"`).Replace(manifestV1)

// testBin is the program under test, built once in TestMain.
var testBin, buildErr = "", error(nil)

func TestMain(m *testing.M) {
	testBin = os.Getenv("MONOGRES_E2E_BIN")
	var tmp string
	if testBin == "" {
		tmp, buildErr = os.MkdirTemp("", "monogres-e2e")
		if buildErr == nil {
			testBin = filepath.Join(tmp, "fakemonogres")
			if out, err := exec.Command("go", "build", "-o", testBin, "./fakemonogres").CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build ./fakemonogres: %v\n%s", err, out)
			}
		}
	}
	code := m.Run()
	if tmp != "" {
		os.RemoveAll(tmp)
	}
	os.Exit(code)
}

func binary(t *testing.T) string {
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return testBin
}

// start runs `BIN tui` in dir inside a w×h tmux pane.
func start(t *testing.T, bin, dir string, w, h int, env ...string) *tmuxtest.Term {
	return tmuxtest.Start(t, dir, w, h, env, bin, "tui")
}

type lockFile struct {
	Inputs []struct {
		Name, Version, SHA256 string
	}
}

func readLock(t *testing.T, dir string) lockFile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "monogres.lock"))
	if err != nil {
		t.Fatal(err)
	}
	var l lockFile
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatalf("monogres.lock: %v", err)
	}
	return l
}

func project(t *testing.T, bin string) string {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "monogres.toml"), []byte(manifestV1), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "lock")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s lock: %v\n%s", bin, err, out)
	}
	return dir
}

// TestBuildThenAcceptLockDiff: open, move to a cell, build it and watch it
// finish, change the manifest, review and accept the lock diff, quit.
func TestBuildThenAcceptLockDiff(t *testing.T) {
	tmuxtest.Need(t)
	bin := binary(t)
	dir := project(t, bin)
	tm := start(t, bin, dir, 100, 30, "FAKEMONOGRES_STEP=300ms")

	tm.WaitFor("postgres 17.0", "pg_similarity 1.0", "barebones", "regular")
	const cell = "pg_similarity~1.0~postgres~17.0~barebones~arm64"
	tm.Keys("j", "l")
	tm.WaitFor("── log " + cell + " (locked)")

	tm.Keys("b")
	s := tm.WaitFor("build 0/1", "step ")
	if !strings.Contains(s, cell) {
		t.Errorf("progress does not name the running cell:\n%s", s)
	}
	s = tm.WaitFor("build finished in", "1 cell ok", "── log "+cell+" (built)", "build of "+cell+" complete")
	if !strings.Contains(s, "●") {
		t.Errorf("no built glyph on screen:\n%s", s)
	}

	lockBefore, _ := os.ReadFile(filepath.Join(dir, "monogres.lock"))
	if err := os.WriteFile(filepath.Join(dir, "monogres.toml"), []byte(manifestV2), 0o644); err != nil {
		t.Fatal(err)
	}
	tm.Keys("L")
	s = tm.WaitFor("lock diff", "2 changes", "postgres/17", "17.0 → 17.2", "pg_similarity", "1.0 → 1.1")
	if now, _ := os.ReadFile(filepath.Join(dir, "monogres.lock")); string(now) != string(lockBefore) {
		t.Fatalf("the lock changed before it was accepted")
	}
	// The sha256 shown as new for postgres/17 is what gets written.
	var shownNew string
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.Contains(l, "postgres/17") && i+1 < len(lines) {
			f := strings.Fields(lines[i+1]) // sha256 OLD → NEW
			if len(f) == 4 && f[0] == "sha256" {
				shownNew = f[3]
			}
		}
	}
	if len(shownNew) != 12 {
		t.Fatalf("no sha256 old → new line under postgres/17:\n%s", s)
	}

	tm.Keys("y")
	tm.WaitFor("wrote monogres.lock (2 changes)", "postgres 17.2", "pg_similarity 1.1")
	l := readLock(t, dir)
	found := false
	for _, in := range l.Inputs {
		if in.Name == "postgres/17" {
			found = true
			if in.Version != "17.2" || !strings.HasPrefix(in.SHA256, shownNew) {
				t.Errorf("lock has postgres/17 %s %s, screen showed 17.2 %s", in.Version, in.SHA256, shownNew)
			}
		}
		if in.Name == "pg_similarity" && in.Version != "1.1" {
			t.Errorf("lock has pg_similarity %s, want 1.1", in.Version)
		}
	}
	if !found {
		t.Errorf("postgres/17 missing from the lock: %+v", l)
	}

	tm.Keys("q")
	if code := tm.Exited(); code != "0" {
		t.Errorf("exit status %s after q, want 0", code)
	}
}

// TestInterruptCancelsBuild: ctrl+c during a build cancels it (the engine
// sees its context end), exits 130 and restores the terminal.
func TestInterruptCancelsBuild(t *testing.T) {
	tmuxtest.Need(t)
	bin := binary(t)
	dir := project(t, bin)
	tm := start(t, bin, dir, 80, 24, "FAKEMONOGRES_STEP=5s")
	tm.WaitFor("postgres 17.0")
	tm.Keys("b")
	tm.WaitFor("build 0/1")
	t0 := time.Now()
	tm.Keys("C-c")
	defer func() { t.Logf("ctrl+c to exit: %v", time.Since(t0)) }()
	if code := tm.Exited(); code != "130" {
		t.Errorf("exit status %s after ctrl+c, want 130", code)
	}
	b, err := os.ReadFile(filepath.Join(dir, ".fake", "cancelled"))
	if err != nil || strings.TrimSpace(string(b)) != "postgres~17.0~barebones~amd64" {
		t.Errorf("the running build was not cancelled: %q %v", b, err)
	}
	// A state left by the cancelled build must not claim it was built.
	if st, _ := os.ReadFile(filepath.Join(dir, ".fake", "states.json")); strings.Contains(string(st), "built") {
		t.Errorf("cancelled build recorded as built: %s", st)
	}
}

// TestSIGTERMRestoresTerminal: a signal to the process (the CLI turns
// SIGINT/SIGTERM into a cancelled context) cancels the build, exits 130 and
// restores the terminal. Only for the fake binary, which reports its pid.
func TestSIGTERMRestoresTerminal(t *testing.T) {
	tmuxtest.Need(t)
	if os.Getenv("MONOGRES_E2E_BIN") != "" {
		t.Skip("needs FAKEMONOGRES_PIDFILE support")
	}
	bin := binary(t)
	dir := project(t, bin)
	pidFile := filepath.Join(dir, ".pid")
	tm := start(t, bin, dir, 80, 24, "FAKEMONOGRES_STEP=5s", "FAKEMONOGRES_PIDFILE="+pidFile)
	tm.WaitFor("postgres 17.0")
	tm.Keys("b")
	tm.WaitFor("build 0/1")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(string(b))
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := tm.Exited(); code != "130" {
		t.Errorf("exit status %s after SIGTERM, want 130", code)
	}
	if _, err := os.Stat(filepath.Join(dir, ".fake", "cancelled")); err != nil {
		t.Errorf("the running build was not cancelled: %v", err)
	}
}
