package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/testenv"
)

// TestNewcomerFirstHour is the newcomer's first hour on a fresh machine: in
// an empty directory, on an empty store (no shared test cache: every .deb
// comes from Debian's archive, every root is composed, the cell is really
// built), `init --minimal`, `lock`, `toolchain shell -- /bin/sh -c 'echo
// ok'`, `build` of the 15.18 barebones amd64 cell, `info` and `log`.
// About 8 minutes on 2 cores (opt-in: MONOGRES_E2E_NEWCOMER=1).
func TestNewcomerFirstHour(t *testing.T) {
	testenv.RequireRoot(t, "builds run in a Linux namespace sandbox")
	if testing.Short() {
		t.Skip("a real Postgres build on a fresh store")
	}
	if os.Getenv("MONOGRES_E2E_NEWCOMER") != "1" {
		t.Skip("set MONOGRES_E2E_NEWCOMER=1 to build 15.18 barebones on a fresh store (about 8 minutes; run it under flock /work/coord/pg.lock)")
	}
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv("MONOGRES_STORE", filepath.Join(t.TempDir(), "store"))
	run := func(wantOK bool, args ...string) (string, string) {
		t.Helper()
		var out, errb bytes.Buffer
		t0 := time.Now()
		code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
		t.Logf("monogres %s: exit %d in %s", strings.Join(args, " "), code, time.Since(t0).Round(time.Millisecond))
		if (code == 0) != wantOK {
			t.Fatalf("monogres %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errb.String())
		}
		return out.String(), errb.String()
	}
	const cell = "postgres~15.18~barebones~amd64"

	out, _ := run(true, "init", "--minimal")
	if !strings.Contains(out, "wrote monogres.toml") {
		t.Errorf("init: %s", out)
	}
	out, _ = run(true, "lock")
	if !strings.Contains(out, "wrote monogres.lock") {
		t.Errorf("lock: %s", out)
	}
	out, _ = run(true, "toolchain", "shell", "--", "/bin/sh", "-c", "echo ok")
	if out != "ok\n" {
		t.Errorf("toolchain shell printed %q, want \"ok\\n\"", out)
	}
	out, _ = run(true, "info", cell)
	// The shell fetched the base root's .debs (barebones' root); the
	// source is the one input missing.
	if !regexp.MustCompile(`(?m)^state +locked$`).MatchString(out) || !strings.Contains(out, "(1 missing from the store)") {
		t.Errorf("info before the build: want state locked, the source missing\n%s", out)
	}
	out, _ = run(true, "build", "--out", "out", cell)
	if !regexp.MustCompile(`(?m)^built +` + regexp.QuoteMeta(cell) + ` `).MatchString(out) {
		t.Errorf("build: %s", out)
	}
	if _, err := os.Stat(filepath.Join("out", cell+".tar.zst")); err != nil {
		t.Error(err)
	}

	out, _ = run(true, "info", "--json", cell)
	var info infoJSON
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("info --json: %v\n%s", err, out)
	}
	if info.State != "built" || !info.Cached || info.ActionKey == "" || info.PackagePath == "" || info.TookSeconds <= 0 {
		t.Errorf("info after the build: %+v", info)
	}
	if _, err := os.Stat(info.PackagePath); err != nil {
		t.Errorf("info's package path: %v", err)
	}
	out, _ = run(true, "info", cell)
	for _, want := range []string{"(cached)", "postgres/15", "11df0df97fe3ea4ba9a791faaf39cee1d2fe571e78885b5b55d8517d27c323b4", "bash="} {
		if !strings.Contains(out, want) {
			t.Errorf("info lacks %q:\n%s", want, out)
		}
	}
	out, _ = run(true, "log", cell)
	if !strings.HasPrefix(out, "monogres: cell "+cell+" action "+info.ActionKey) || !strings.Contains(out, "monogres: smoke test took") {
		t.Errorf("log: %.2000s", out)
	}
	// A second build is a cache hit.
	out, _ = run(true, "build", cell)
	if !regexp.MustCompile(`(?m)^cached +` + regexp.QuoteMeta(cell)).MatchString(out) {
		t.Errorf("second build: %s", out)
	}
}
