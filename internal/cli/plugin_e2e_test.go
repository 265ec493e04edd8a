package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/monogres/monogres/internal/testenv"
)

// authorPlan is what an extension author writes into the generated
// main.go: pg_rational 0.0.2 lacks the pg_rational--0.0.2.sql install
// script its control file's default_version needs. The plugin generates it
// from the upgrade chain (params.from names the base version), adds it to
// the Makefile's DATA with a substitution, and builds with PGXS.
const authorPlan = `func plan(req sdk.Request) (sdk.Plan, error) {
	name, to, from := req.Extension.Name, req.Extension.Version, req.Params["from"]
	base, err := req.ReadFile(name + "--" + from + ".sql")
	if err != nil {
		return sdk.Plan{}, err
	}
	up, err := req.ReadFile(name + "--" + from + "--" + to + ".sql")
	if err != nil {
		return sdk.Plan{}, err
	}
	gen := name + "--" + to + ".sql"
	fix, err := sdk.Substitute(req, "Makefile", "DATA = ", "DATA = "+gen+" ")
	if err != nil {
		return sdk.Plan{}, err
	}
	return sdk.Plan{
		Files:    []sdk.File{{Path: gen, Content: string(base) + string(up)}},
		Patches:  []sdk.Patch{fix},
		Commands: sdk.PGXS(req),
		Package:  []string{req.Paths.Installed("lib"), req.Paths.Installed("share")},
	}, nil
}
`

// badPlan answers the plans a build rejects, chosen by params.mode.
const badPlan = `func plan(req sdk.Request) (sdk.Plan, error) {
	p := sdk.Plan{Commands: sdk.PGXS(req)}
	switch req.Params["mode"] {
	case "nonapplying":
		p.Patches = []sdk.Patch{{Path: "Makefile", Diff: "@@ -1 +1 @@\n-no such line\n+x\n"}}
	case "missingfile":
		p.Patches = []sdk.Patch{{Path: "GNUmakefile", Diff: "@@ -1 +1 @@\n-a\n+b\n"}}
	case "extrapackage":
		p.ExtraPackages = []string{"libgeos-dev"}
	case "nomatch":
		p.Package = []string{"usr/lib/postgresql/15/lib/pg_rational.so"}
	}
	return p, nil
}
`

// TestPluginAuthorEndToEnd is an extension author's whole workflow through
// the monogres CLI: plugin init in an empty directory outside the
// repository, edit the plugin (a substitution and a generated file), go
// test, plugin build (twice, from two paths: same sha256), plugin run
// --cell against the real pg_rational 0.0.2 source and the Postgres
// 15.18 regular amd64 cell, a manifest with path = and params, lock, build and
// verify on amd64 (regular) and arm64 (barebones); plans the build would
// reject make plugin run --cell fail; editing the locked plugin makes lock
// --check fail.
func TestPluginAuthorEndToEnd(t *testing.T) {
	testenv.RequireRoot(t, "builds in namespaces")
	if testing.Short() {
		t.Skip("builds extensions against real Postgres cells; not in -short")
	}
	t.Setenv("MONOGRES_STORE", e2eStore())
	dir := e2eProject(t)
	manifest := filepath.Join(dir, "monogres.toml")
	run := func(wantOK bool, args ...string) string {
		t.Helper()
		var out bytes.Buffer
		code := Main(context.Background(), append([]string{"--manifest", manifest}, args...), strings.NewReader(""), &out, &out)
		if (code == 0) != wantOK {
			t.Fatalf("monogres %s: exit %d\n%s", strings.Join(args, " "), code, out.String())
		}
		return out.String()
	}
	// The Postgres parents come from the shared test store, where the
	// build tests and earlier runs put them; a parent missing there is
	// built first (5-15 minutes each), so the test never depends on
	// package order. With them cached it takes under a minute.
	parents := []string{"postgres~15.18~regular~amd64", "postgres~15.18~barebones~arm64"}
	run(true, append([]string{"fetch"}, parents...)...) // the dry run needs their inputs to compute action keys
	run(true, "fetch", "index/*")                       // lock --check verifies the deb/* pins against them, offline
	var dry bytes.Buffer
	Main(context.Background(), append([]string{"--manifest", manifest, "build", "--dry-run"}, parents...), strings.NewReader(""), &dry, &dry)
	for _, p := range parents {
		if !regexp.MustCompile(`(?m)^cached +` + regexp.QuoteMeta(p) + ` `).MatchString(dry.String()) {
			t.Logf("%s is not in the shared test store %s: building it", p, e2eStore())
			run(true, "build", "--out", t.TempDir(), p)
		}
	}

	// Scaffold outside the repository; it builds and tests as generated.
	author := filepath.Join(t.TempDir(), "sqlchain")
	run(true, "plugin", "init", author)
	gotest(t, author)
	mainGo := filepath.Join(author, "main.go")
	src, err := os.ReadFile(mainGo)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(src), "func plan(")
	if i < 0 {
		t.Fatalf("generated main.go has no plan function:\n%s", src)
	}
	edited := strings.Replace(string(src[:i]), "import (\n\t\"fmt\"\n\n", "import (\n", 1) + authorPlan
	if err := os.WriteFile(mainGo, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(filepath.Join(author, "main_test.go")) // its table was for the generated plan

	// Build into the project, and again from a copy elsewhere: same bytes.
	wasm := filepath.Join(dir, "plugins", "sqlchain.wasm")
	sum := regexp.MustCompile(`sha256 ([0-9a-f]{64})`).FindStringSubmatch(run(true, "plugin", "build", author, "-o", wasm))[1]
	other := filepath.Join(t.TempDir(), "a", "different", "checkout")
	copyTree(t, author, other)
	if again := regexp.MustCompile(`sha256 ([0-9a-f]{64})`).FindStringSubmatch(run(true, "plugin", "build", other, "-o", filepath.Join(other, "x.wasm")))[1]; again != sum {
		t.Errorf("the same plugin source built at another path gives sha256 %s, not %s", again, sum)
	}

	// The manifest: pg_rational builds with the local plugin and params.
	m, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(m), "build = \"plugin:rationalfix\"\n", "build = \"plugin:sqlchain\"\nparams = { from = \"0.0.1\" }\n", 1)
	text += "\n[[plugin]]\nname = \"sqlchain\"\npath = \"plugins/sqlchain.wasm\"\n"
	if err := os.WriteFile(manifest, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	run(true, "lock")
	run(true, "lock", "--check")

	amd := "pg_rational~0.0.2~postgres~15.18~regular~amd64"
	arm := "pg_rational~0.0.2~postgres~15.18~barebones~arm64"
	out := run(true, "plugin", "run", "--cell", amd)
	for _, want := range []string{
		`"params": {` + "\n" + `    "from": "0.0.1"`, `"prefix": "/build/pg"`, `"pg_config": "/build/pg/bin/pg_config"`, `"source_date_epoch": `,
		"# wrote pg_rational--0.0.2.sql (", "# patched Makefile (+1 -1 lines)", "+DATA = pg_rational--0.0.2.sql ",
		"make USE_PGXS=1 PG_CONFIG=/build/pg/bin/pg_config rpathdir=$$ORIGIN/../lib install DESTDIR=/build/out", "package: build/pg/lib build/pg/share",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plugin run --cell output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `\u003c`) || strings.Contains(out, `"source_date_epoch": 0`) {
		t.Errorf("plugin run --cell escapes HTML or has no SOURCE_DATE_EPOCH:\n%s", out)
	}
	buildOut := filepath.Join(dir, "out")
	run(true, "build", "--out", buildOut, amd, arm)
	run(true, "verify", "--out", buildOut, amd, arm)

	// Plans the build would reject fail the dry run, each with its reason.
	bad := filepath.Join(t.TempDir(), "badplan")
	run(true, "plugin", "init", bad)
	bsrc, _ := os.ReadFile(filepath.Join(bad, "main.go"))
	j := strings.Index(string(bsrc), "func plan(")
	os.WriteFile(filepath.Join(bad, "main.go"), []byte(strings.Replace(string(bsrc[:j]), "import (\n\t\"fmt\"\n\n", "import (\n", 1)+badPlan), 0o644)
	os.Remove(filepath.Join(bad, "main_test.go"))
	run(true, "plugin", "build", bad, "-o", filepath.Join(dir, "plugins", "badplan.wasm"))
	text += "\n[[plugin]]\nname = \"badplan\"\npath = \"plugins/badplan.wasm\"\n"
	for mode, want := range map[string]string{
		"nonapplying":  "patches[0] Makefile: hunk #1 (@@ -1 +1 @@) does not apply",
		"missingfile":  "patches[0] GNUmakefile: the source tree has no such file to patch",
		"extrapackage": `extra_packages[0]: "libgeos-dev" is not in the lock`,
		"nomatch":      `package[0] "usr/lib/postgresql/15/lib/pg_rational.so" matches nothing: an extension installs below build/pg/`,
	} {
		t.Run(mode, func(t *testing.T) {
			mt := strings.Replace(text, "build = \"plugin:sqlchain\"\nparams = { from = \"0.0.1\" }\n", "build = \"plugin:badplan\"\nparams = { mode = \""+mode+"\" }\n", 1)
			os.WriteFile(manifest, []byte(mt), 0o644)
			run(true, "lock")
			if out := run(false, "plugin", "run", "--cell", amd); !strings.Contains(out, want) {
				t.Errorf("plugin run --cell (%s) does not say %q:\n%s", mode, want, out)
			}
		})
	}

	// Editing the locked plugin: lock --check names it.
	os.WriteFile(manifest, []byte(text), 0o644)
	run(true, "lock")
	f, _ := os.OpenFile(wasm, os.O_APPEND|os.O_WRONLY, 0)
	f.Write([]byte{0})
	f.Close()
	if out := run(false, "lock", "--check"); !strings.Contains(out, "plugin sqlchain: its local file plugins/sqlchain.wasm changed since it was locked") {
		t.Errorf("lock --check after editing the plugin:\n%s", out)
	}
}

// gotest runs `go test ./...` in a plugin module.
func gotest(t *testing.T, dir string) {
	t.Helper()
	var out bytes.Buffer
	if code := runIn(dir, &out, "go", "test", "./..."); code != 0 {
		t.Fatalf("go test in the generated plugin failed:\n%s", out.String())
	}
}

func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		if strings.HasSuffix(p, ".wasm") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func runIn(dir string, out *bytes.Buffer, name string, args ...string) int {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		fmt.Fprintln(out, err)
		return 1
	}
	return 0
}
