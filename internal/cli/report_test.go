package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monogres/monogres/internal/testenv"
)

// TestReportExtensions builds two real extensions against the 15.18
// barebones amd64 cell of the shared test store (the one CI builds) through the CLI: pg_similarity
// builds (its own regression suite, failing, marked advisory); pg_rational as plain PGXS (without the plugin that fixes its
// Makefile) fails its smoke test. `report extensions` then says built,
// failed with the smoke test's reason, and not built for numeral on the
// minimal parent (no test builds that cell or its parent; numeral on
// barebones is built by the evidence test), in a new process (from the
// store and action cache only).
func TestReportExtensions(t *testing.T) {
	testenv.RequireRoot(t, "builds in namespaces")
	if testing.Short() {
		t.Skip("builds two extensions against the real 15.18 barebones cell; not in -short")
	}
	t.Setenv("MONOGRES_STORE", e2eStore())
	dir := e2eProject(t)
	manifest := filepath.Join(dir, "monogres.toml")
	m, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	m = bytes.Replace(m, []byte(`build = "plugin:rationalfix"`), []byte(`build = "pgxs"`), 1)
	os.WriteFile(manifest, m, 0o644)
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Main(context.Background(), append([]string{"--manifest", manifest}, args...), strings.NewReader(""), &out, &out)
		return code, out.String()
	}
	if code, out := run("lock"); code != 0 {
		t.Fatalf("lock: exit %d\n%s", code, out)
	}
	sim, rat := "pg_similarity~1.0~postgres~15.18~barebones~amd64", "pg_rational~0.0.2~postgres~15.18~barebones~amd64"
	if code, out := run("build", "--keep-going", "--out", t.TempDir(), sim, rat); code == 0 {
		t.Fatalf("build of a failing pg_rational succeeded:\n%s", out)
	}
	// The repository's manifest selects more extensions; the report of
	// these three is what the test builds.
	three := []string{"pg_similarity~*~postgres~15.18~barebones~amd64", "numeral~1.3~postgres~15.18~minimal~amd64", "pg_rational~*~postgres~15.18~barebones~amd64"}
	code, out := run(append([]string{"report", "extensions", "--json"}, three...)...)
	if code != 0 {
		t.Fatalf("report: exit %d\n%s", code, out)
	}
	var rows []extensionRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	got := map[string]extensionRow{}
	for _, r := range rows {
		got[r.Cell] = r
	}
	if r := got[sim]; r.Status != statusBuilt || !strings.Contains(r.Reason, "smoke test passed") || !strings.Contains(r.Regress, "advisory: its expected output predates Postgres 12") || r.RegressPassed {
		t.Errorf("pg_similarity: %+v", r)
	}
	if r := got[rat]; r.Status != statusFailed || !strings.Contains(r.Reason, "smoke test") || r.Log == "" {
		t.Errorf("pg_rational (plain PGXS): %+v", r)
	}
	if r := got["numeral~1.3~postgres~15.18~minimal~amd64"]; r.Status != statusNotBuilt {
		t.Errorf("numeral on minimal: %+v", r)
	}
	if len(rows) != 3 {
		t.Errorf("%d rows for 3 extension cells: %+v", len(rows), rows)
	}
	_, text := run(append([]string{"report", "extensions"}, three...)...)
	if !strings.Contains(text, "3 extension cells: 1 built, 1 failed, 0 dropped, 1 not built") {
		t.Errorf("report text:\n%s", text)
	}
}

// A failed build's reason names the build's own first error (the lines
// real logs of this session's catalog run had), not only the sandbox's
// exit status.
func TestFailureLineBuildError(t *testing.T) {
	for _, tc := range []struct{ log, want string }{
		{"-- Detecting C compile features - done\nCMake Error at cmake/FindPostgreSQL.cmake:26 (find_program):\n  Could not find PostgreSQL_CONFIG using the following names: pg_config\nCall Stack\n-- Configuring incomplete, errors occurred!\nmonogres: FAILED: build: sandboxed command /bin/sh exited with status 1\n",
			"build: sandboxed command /bin/sh exited with status 1 (CMake Error at cmake/FindPostgreSQL.cmake:26 (find_program): Could not find PostgreSQL_CONFIG using the following names: pg_config)"},
		{"gcc -Wall -Werror=vla -c -o a.o a.c\n/usr/bin/install: cannot create regular file '/build/out/build/pg/include/server/': No such file or directory\nmake: *** [Makefile:45: installincludes] Error 1\nmonogres: FAILED: build: sandboxed command /bin/sh exited with status 2\n",
			"build: sandboxed command /bin/sh exited with status 2 (/usr/bin/install: cannot create regular file '/build/out/build/pg/include/server/': No such file or directory)"},
		{"+ CREATE EXTENSION londiste CASCADE\npsql: ERROR:  extension \"pgq_node\" is not available\nmonogres: FAILED: smoke test: sandboxed command /bin/sh exited with status 1\n",
			"smoke test: sandboxed command /bin/sh exited with status 1 (ERROR:  extension \"pgq_node\" is not available)"},
		{"monogres: FAILED: checking the install: lib/x.so records the sandbox path \"/build/pg/lib\"\n", "checking the install: lib/x.so records the sandbox path \"/build/pg/lib\""},
	} {
		p := filepath.Join(t.TempDir(), "cell.log")
		if err := os.WriteFile(p, []byte(tc.log), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := failureLine(p); got != tc.want {
			t.Errorf("failureLine:\n got %s\nwant %s", got, tc.want)
		}
	}
}
