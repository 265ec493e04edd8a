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
	"unicode/utf8"

	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/tmuxtest"
	"github.com/monogres/monogres/lock"
)

// e2eCell is a small real build: an extension over a Postgres cell that the
// build and build/extension tests leave in the shared test store.
const e2eCell = "pg_similarity~1.0~postgres~15.18~barebones~amd64"

// e2ePostgres is the Postgres cell the build tests build in the shared test
// store; the CLI builds it (or finds it cached) before the TUI opens.
const e2ePostgres = "postgres~15.18~barebones~amd64"

// TestTUIEndToEnd drives the real monogres binary in a tmux pane over the
// repository's distribution and the shared test store: the CLI builds a
// Postgres cell, then the TUI shows it built from the store (its detail:
// action key cached, its log tail) although this session never built it;
// move, filter, build an extension cell and watch it finish; add a package
// to the toolchain in monogres.toml, reload: the stale lock is on screen;
// the lock diff (which resolves the toolchain from the Debian archive) opens
// with the frame intact and nothing written to stderr; accept it: the cell's
// root changed, so it is no longer built; fetch its inputs from the UI: it
// is fetched. The lock then differs from the old one by exactly the change
// shown, `monogres lock --check` passes, and the terminal is restored.
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

	// A cell built by the CLI (found in the action cache when the build
	// tests built it; built here otherwise, minutes).
	cliStart := time.Now()
	if out, err := run("build", e2ePostgres); err != nil {
		t.Fatalf("monogres build %s: %v\n%s", e2ePostgres, err, out)
	}
	t.Logf("monogres build %s took %v", e2ePostgres, time.Since(cliStart).Round(time.Second))

	tm := tmuxtest.Start(t, dir, 160, 48, []string{storeEnv}, bin, "tui")

	// Open: the CLI's build shows as built, from the store: the matrix,
	// the detail beside it, its log under it.
	pgRow := func(glyphs string) *regexp.Regexp {
		return regexp.MustCompile(`(?m)^postgres 15\.18 +\[[` + glyphs + `]\]`)
	}
	s := tm.WaitFor("pg_similarity 1.0", "barebones", "arm64", "── "+e2ePostgres+" (", "│ action   ")
	if !pgRow("●✓").MatchString(s) {
		t.Errorf("the cell the CLI built is not shown built (● or ✓):\n%s", s)
	}
	if !regexp.MustCompile(`│ action   [0-9a-f]{12} cached`).MatchString(s) {
		t.Errorf("the detail pane does not show the cell's action key cached:\n%s", s)
	}
	if !strings.Contains(s, "monogres: smoke test took") {
		t.Errorf("the log pane does not show the tail of the CLI build's log (its last line names the smoke test):\n%s", s)
	}
	cellsBefore := e2eCellCount(t, s)

	// The same real matrix on an 80x24 terminal: every option set and arch
	// column is there (abbreviated), no line is wider than the terminal,
	// and the selected cell's row and its detail still show.
	tm.Resize(80, 24)
	s = tm.WaitUntil(tmuxtest.DefaultTimeout, "the 80x24 layout", func(s string) bool {
		lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
		return len(lines) <= 24 && strings.HasPrefix(lines[0], "monogres ") && strings.Contains(s, "── "+e2ePostgres+" (")
	})
	t.Logf("the repository's matrix at 80x24:\n%s", s)
	e2eCheck80x24(t, s)
	if !pgRow("●✓").MatchString(s) {
		t.Errorf("at 80x24 the selected cell's row is not shown built:\n%s", s)
	}
	tm.Resize(160, 48)
	tm.WaitFor("│ action   ")

	// Move: down to the extension row, right and back left.
	tm.Keys("j")
	tm.WaitFor("── " + e2eCell + " (")
	tm.Keys("l")
	tm.WaitFor("── pg_similarity~1.0~postgres~15.18~barebones~arm64 (")
	tm.Keys("h")
	tm.WaitFor("── " + e2eCell + " (")

	// Filter to the one cell by its full name.
	tm.Keys("/")
	tm.Type(e2eCell)
	tm.Keys("Enter")
	s = tm.WaitFor(`filter "`+e2eCell+`": 1 of `, "── "+e2eCell+" (")

	// Build it and watch it finish.
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
	s = tm.WaitUntil(tmuxtest.DefaultTimeout, "the cell built or cached after the reload", func(s string) bool {
		return strings.Contains(s, "── "+e2eCell+" (built)") || strings.Contains(s, "── "+e2eCell+" (cached)")
	})
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
	// Clear the filter, and wait until it is gone: a key sent right after
	// Escape reaches the TUI as Alt+key (ESC r), so the reload below would
	// be lost.
	tm.Keys("Escape")
	tm.WaitUntil(tmuxtest.DefaultTimeout, "the filter cleared", func(s string) bool {
		return !strings.Contains(s, "filter \"") && strings.Contains(s, "── "+e2eCell+" (")
	})

	// Change the toolchain: one more package in every root.
	toml := filepath.Join(dir, "monogres.toml")
	m, err := os.ReadFile(toml)
	if err != nil {
		t.Fatal(err)
	}
	const oldPackages, newPackages = "packages = [\n  \"base-files\",\n", "packages = [\n  \"base-files\",\n  \"file\",\n"
	if !strings.Contains(string(m), oldPackages) {
		t.Fatalf("monogres.toml no longer has the [toolchain] packages list this test edits (%q)", oldPackages)
	}
	if err := os.WriteFile(toml, []byte(strings.Replace(string(m), oldPackages, newPackages, 1)), 0o644); err != nil {
		t.Fatal(err)
	}

	// Reload: the stale lock is on screen.
	tm.Keys("r")
	tm.WaitFor("⚠ monogres.lock is stale: ")

	// The lock diff resolves the toolchain from the archive: what that
	// says goes through the TUI, nothing to the terminal.
	tm.Keys("L")
	s = tm.WaitUntil(5*time.Minute, "the lock diff", func(s string) bool { return strings.HasPrefix(s, "lock diff") })
	s = tm.WaitFor("deb/amd64/file", "y/enter write monogres.lock")
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) != 48 || !strings.HasPrefix(lines[0], "lock diff  monogres.lock  ") || !strings.HasPrefix(lines[len(lines)-1], "y/enter write monogres.lock") {
		t.Errorf("the lock diff frame is not intact (%d lines, first %q, last %q):\n%s", len(lines), lines[0], lines[len(lines)-1], s)
	}
	if strings.Contains(s, "resolving toolchain packages") {
		t.Errorf("the toolchain resolver's message is painted over the lock diff:\n%s", s)
	}
	if now, _ := e2eReadLock(t, dir); string(now) != string(oldLockBytes) {
		t.Fatal("monogres.lock changed before the diff was accepted")
	}

	// Accept: the lock is written; every root changed, so the CLI's cell
	// is no longer built (its action key changed) and needs new .debs.
	tm.Keys("y")
	s = tm.WaitFor("wrote monogres.lock (")
	s = tm.WaitUntil(tmuxtest.DefaultTimeout, "the matrix reloaded on the new lock", func(s string) bool {
		return !strings.Contains(s, "⚠ monogres.lock is stale") && strings.Contains(s, "│ action   ")
	})
	if n := e2eCellCount(t, s); n != cellsBefore {
		t.Errorf("matrix has %d cells after the toolchain change, had %d", n, cellsBefore)
	}
	tm.Keys("g", "h", "h", "h", "h", "h", "h", "h", "h", "h", "h") // back to the first cell
	s = tm.WaitFor("── " + e2ePostgres + " (")
	if pgRow("●✓◆").MatchString(s) {
		t.Errorf("%s still shows built after its toolchain root changed:\n%s", e2ePostgres, s)
	}
	_, newLock := e2eReadLock(t, dir)
	changes := lock.Diff(oldLock, newLock)
	file := false
	for _, c := range changes {
		file = file || c.Kind == lock.Added && c.Name == "deb/amd64/file"
	}
	if !file {
		t.Errorf("the written lock does not add deb/amd64/file: %v", changes)
	}
	if out, err := run("lock", "--check"); err != nil {
		t.Errorf("lock --check after accepting the diff: %v\n%s", err, out)
	}

	// Fetch from the UI what the cell needs now: it is fetched.
	tm.Keys("f")
	s = tm.WaitUntil(5*time.Minute, "the fetch to end", func(s string) bool {
		return strings.Contains(s, "fetched what 1 cell needs in") || strings.Contains(s, "fetch failed after")
	})
	if !strings.Contains(s, "fetched what 1 cell needs in") {
		t.Fatalf("the fetch failed:\n%s", s)
	}
	s = tm.WaitFor("── "+e2ePostgres+" (fetched)", "│ inputs   ")
	if !pgRow("↓").MatchString(s) || !regexp.MustCompile(`│ inputs   \d+, all in the store`).MatchString(s) {
		t.Errorf("after the fetch the cell is not shown fetched with every input in the store:\n%s", s)
	}

	// Quit: exit status 0, nothing written to stderr, terminal restored.
	tm.Keys("q")
	if code := tm.Exited(); code != "0" {
		t.Errorf("exit status %s after q, want 0\n%s", code, tm.Stderr())
	}
	if e := strings.TrimPrefix(tm.Stderr(), "stderr: "); e != "" {
		t.Errorf("the TUI session wrote to stderr (it must go through the TUI):\n%s", e)
	}
}

// e2eCheck80x24 checks an 80x24 screen of the repository's matrix: at
// most 24 lines of at most 80 columns, a header naming all five option
// sets and ten arch columns.
func e2eCheck80x24(t *testing.T, s string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > 24 {
		t.Errorf("%d lines on a 24-line terminal:\n%s", len(lines), s)
	}
	for i, l := range lines {
		if n := utf8.RuneCountInString(l); n > 80 {
			t.Errorf("line %d is %d columns wide on an 80-column terminal: %q", i+1, n, l)
		}
	}
	header := strings.Join(lines[:min(3, len(lines))], "\n")
	for _, set := range []string{"barebones", "minimal", "regular", "full", "debug"} {
		// Abbreviated names keep their first three letters.
		if !strings.Contains(header, set[:3]) {
			t.Errorf("the 80x24 header lacks option set %s:\n%s", set, header)
		}
	}
	if a, r := strings.Count(header, "amd"), strings.Count(header, "arm"); a != 5 || r != 5 {
		t.Errorf("the 80x24 header shows %d amd64 and %d arm64 columns, want 5 each:\n%s", a, r, header)
	}
}

// e2eProject copies the repository's distribution (monogres.toml,
// monogres.lock, the extension catalog and release index beside them, and
// the plugins it ships in plugins/dist) into a temp dir.
func e2eProject(t *testing.T) string {
	t.Helper()
	root, dir := filepath.Join("..", ".."), t.TempDir()
	for _, f := range []string{"monogres.toml", "monogres.lock", "monogres.catalog.json", "monogres.index.json"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil && f == "monogres.index.json" {
			continue // the release index file is optional
		}
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
