package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/tmuxtest"
	"github.com/monogres/monogres/lock"
)

// e2eCell is a small real build: an extension over a Postgres cell that the
// build and build/extension tests leave in the shared test store.
const e2eCell = "pg_similarity~1.0~postgres~15.18~barebones~amd64"

// TestTUIEndToEnd drives the real monogres binary in a tmux pane over the
// repository's distribution: open the TUI, move to a cell, filter to it,
// build it and watch it finish, drop Postgres 18 from monogres.toml, review
// the lock diff (nothing written yet), accept it, quit. The lock file then
// differs from the old one by exactly the change shown, `monogres lock
// --check` passes, and the terminal is restored.
func TestTUIEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: builds a real Postgres cell (skipped under -short)")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root: monogres builds cells in Linux namespace sandboxes")
	}
	tmuxtest.Need(t)
	start := time.Now()
	defer func() { t.Logf("end-to-end run took %v", time.Since(start).Round(time.Second)) }()

	bin := filepath.Join(t.TempDir(), "monogres")
	gobuild := exec.Command("go", "build", "-o", bin, "./cmd/monogres")
	gobuild.Dir = filepath.Join("..", "..")
	if out, err := gobuild.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/monogres: %v\n%s", err, out)
	}
	dir := e2eProject(t)
	storeEnv := "MONOGRES_STORE=" + e2eStore()
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), storeEnv)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// lock --check verifies the deb/* pins against the signed index
	// offline: the index files must be in the store first.
	if out, err := run("fetch", "index/*"); err != nil {
		t.Fatalf("fetch index/*: %v\n%s", err, out)
	}
	if out, err := run("lock", "--check"); err != nil {
		t.Fatalf("the repository's monogres.lock does not match its monogres.toml: %v\n%s", err, out)
	}
	oldLockBytes, oldLock := e2eReadLock(t, dir)
	pg18, ok := oldLock.Find("postgres/18")
	if !ok {
		t.Fatal("the repository's monogres.lock has no postgres/18 input to remove")
	}

	tm := tmuxtest.Start(t, dir, 160, 48, []string{storeEnv}, bin, "tui")

	// Open: the matrix of the whole distribution, cursor on the first cell.
	s := tm.WaitFor("postgres 15.18", "pg_similarity 1.0", "barebones", "arm64", "── log postgres~15.18~barebones~amd64 ")
	cellsBefore := e2eCellCount(t, s)

	// Move: down to the extension row, right and back left.
	tm.Keys("j")
	tm.WaitFor("── log " + e2eCell + " ")
	tm.Keys("l")
	tm.WaitFor("── log pg_similarity~1.0~postgres~15.18~barebones~arm64 ")
	tm.Keys("h")
	tm.WaitFor("── log " + e2eCell + " ")

	// Filter to the one cell by its full name.
	tm.Keys("/")
	tm.Type(e2eCell)
	tm.Keys("Enter")
	s = tm.WaitFor(`filter "`+e2eCell+`": 1 of `, "── log "+e2eCell+" ")

	// Build it and watch it finish. On a machine whose test store does not
	// hold the parent Postgres cell yet, that is built first (minutes).
	tm.Keys("b")
	buildTimeout := 20 * time.Minute
	if dl, ok := t.Deadline(); ok && time.Until(dl)-time.Minute < buildTimeout {
		buildTimeout = time.Until(dl) - time.Minute
	}
	buildStart := time.Now()
	cellRow := func(glyphs string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^  pg_similarity 1\.0 +\[[` + glyphs + `]\]`)
	}
	sawBuilding, sawProgress := false, false
	s = tm.WaitUntil(buildTimeout, "the build of "+e2eCell+" to end", func(s string) bool {
		sawBuilding = sawBuilding || cellRow("▶").MatchString(s)
		sawProgress = sawProgress || regexp.MustCompile(`(?m)^build \d+/1 · `).MatchString(s)
		return strings.Contains(s, "build finished in") || strings.Contains(s, "build failed after") ||
			strings.Contains(s, "build cancelled after")
	})
	t.Logf("build in the TUI took %v (building state seen: %v, progress seen: %v)",
		time.Since(buildStart).Round(time.Second), sawBuilding, sawProgress)
	if !strings.Contains(s, "build finished in") || !strings.Contains(s, ": 1 cell ok") {
		t.Fatalf("the build did not succeed:\n%s\n%s", s, tm.Stderr())
	}
	if !strings.Contains(s, "── log "+e2eCell+" (built)") && !strings.Contains(s, "── log "+e2eCell+" (cached)") {
		t.Errorf("the log pane does not show the cell built or cached:\n%s", s)
	}
	switch {
	case cellRow("●").MatchString(s):
		// A real build: it ran long enough to be seen running.
		if !sawBuilding || !sawProgress {
			t.Errorf("the cell was built but the screen never showed it building (▶: %v) with build progress (%v)", sawBuilding, sawProgress)
		}
	case cellRow("◆").MatchString(s):
		t.Logf("%s was already in the store's action cache", e2eCell)
	default:
		t.Errorf("the matrix does not show the cell built (●) or cached (◆):\n%s", s)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", e2eCell+".tar.zst")); err != nil {
		t.Errorf("the build left no package: %v", err)
	}

	// Change the manifest: Postgres 18 is no longer wanted.
	toml := filepath.Join(dir, "monogres.toml")
	m, err := os.ReadFile(toml)
	if err != nil {
		t.Fatal(err)
	}
	const oldVersions, newVersions = `versions = ["15.18", "16.*", "17.*", "18.*"]`, `versions = ["15.18", "16.*", "17.*"]`
	if !strings.Contains(string(m), oldVersions) {
		t.Fatalf("monogres.toml no longer has the line %s this test edits", oldVersions)
	}
	if err := os.WriteFile(toml, []byte(strings.Replace(string(m), oldVersions, newVersions, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := run("lock", "--check"); err == nil || !strings.Contains(out, "postgres/18") {
		t.Fatalf("lock --check after dropping 18.* from monogres.toml: err %v, want a failure naming postgres/18:\n%s", err, out)
	}

	// Review the lock diff: shown, not written.
	tm.Keys("L")
	s = tm.WaitFor("lock diff", "1 change: 0 added, 0 updated, 1 removed", "postgres/18", "y/enter write monogres.lock")
	var row, shaRow string
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.Contains(l, "postgres/18") && i+1 < len(lines) {
			row, shaRow = l, lines[i+1]
		}
	}
	if f := strings.Fields(row); len(f) != 4 || f[0] != "-" || f[2] != pg18.Version || f[3] != "removed" {
		t.Errorf("lock diff row %q, want \"- postgres/18 %s removed\"", row, pg18.Version)
	}
	if f := strings.Fields(shaRow); len(f) != 2 || f[0] != "sha256" || len(f[1]) < 12 || !strings.HasPrefix(pg18.SHA256, f[1]) {
		t.Errorf("lock diff sha256 row %q, want a prefix of postgres/18's %s", shaRow, pg18.SHA256)
	}
	if now, _ := e2eReadLock(t, dir); string(now) != string(oldLockBytes) {
		t.Fatal("monogres.lock changed before the diff was accepted")
	}

	// Accept: the lock is written, exactly the change shown.
	tm.Keys("y")
	s = tm.WaitFor("wrote monogres.lock (1 change)")
	if n := e2eCellCount(t, s); n >= cellsBefore {
		t.Errorf("matrix has %d cells after dropping Postgres 18, had %d", n, cellsBefore)
	}
	_, newLock := e2eReadLock(t, dir)
	changes := lock.Diff(oldLock, newLock)
	if len(changes) != 1 || changes[0].Kind != lock.Removed || changes[0].Name != "postgres/18" {
		t.Errorf("the written lock differs from the old one by %d changes %v, want only postgres/18 removed", len(changes), changes)
	}
	if out, err := run("lock", "--check"); err != nil {
		t.Errorf("lock --check after accepting the diff: %v\n%s", err, out)
	}

	// Quit: exit status 0, terminal restored.
	tm.Keys("q")
	if code := tm.Exited(); code != "0" {
		t.Errorf("exit status %s after q, want 0\n%s", code, tm.Stderr())
	}
}

// e2eProject copies the repository's distribution (monogres.toml,
// monogres.lock and the plugins it ships in plugins/dist) into a temp dir.
func e2eProject(t *testing.T) string {
	t.Helper()
	root, dir := filepath.Join("..", ".."), t.TempDir()
	for _, f := range []string{"monogres.toml", "monogres.lock"} {
		e2eCopy(t, filepath.Join(root, f), filepath.Join(dir, f))
	}
	dist := filepath.Join("plugins", "dist")
	ents, err := os.ReadDir(filepath.Join(root, dist))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, dist), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Type().IsRegular() {
			e2eCopy(t, filepath.Join(root, dist, e.Name()), filepath.Join(dir, dist, e.Name()))
		}
	}
	return dir
}

func e2eCopy(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// e2eStore is the store the build and build/extension tests fill:
// $MONOGRES_TEST_CACHE/store, default /var/cache/monogres-test/store.
func e2eStore() string {
	d := os.Getenv("MONOGRES_TEST_CACHE")
	if d == "" {
		d = "/var/cache/monogres-test"
	}
	return filepath.Join(d, "store")
}

func e2eReadLock(t *testing.T, dir string) ([]byte, *lock.Lock) {
	t.Helper()
	data, l, err := app.ReadLock(filepath.Join(dir, "monogres.lock"))
	if err != nil {
		t.Fatal(err)
	}
	return data, l
}

// e2eCellCount reads N from the title line "monogres  N cells …".
func e2eCellCount(t *testing.T, screen string) int {
	t.Helper()
	m := regexp.MustCompile(`monogres  (\d+) cells`).FindStringSubmatch(screen)
	if m == nil {
		t.Fatalf("no cell count in the title:\n%s", screen)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}
