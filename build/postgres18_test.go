package build_test

import (
	"context"
	"debug/elf"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/buildtest"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/testenv"
)

// cell186 is the CI's one Postgres 18 cell: the meson recipe.
var cell186 = build.Cell{
	Name: "postgres~18.6~barebones~amd64", PostgresVersion: "18.6", Major: 18,
	OptionSet: "barebones", Arch: "amd64", Source: testenv.PG186,
}

// TestPostgres18 builds postgres~18.6~barebones~amd64 with meson from
// Debian's 18.6 tarball, checks the package like every cell, then inspects
// the real meson install extracted into an arbitrary directory and run as
// an unprivileged user: every pg_config path points into that directory
// (no lib/x86_64-linux-gnu: meson's Debian libdir default is overridden),
// the recorded CFLAGS carry the -O2 the compiler got (not release's -O3),
// PGXS builds and installs an extension into it that CREATE EXTENSION
// loads; and verify rebuilds it bit for bit. It builds in the shared test
// store, so a warm test cache skips the first build (not the verify).
func TestPostgres18(t *testing.T) {
	requireBuilds(t)
	ctx := context.Background()
	shared := testStore(t)
	if src := testenv.Source(t, testenv.PG186); !shared.Has(testenv.PG186.SHA256) {
		if _, _, err := shared.AddFile(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	// The shared store: build/extension's 18.6 test finds the package cached.
	cfg := build.Config{
		Store: shared, Toolchain: buildtest.RealToolchain(t, shared.Dir()), OutDir: t.TempDir(),
		Jobs: 1, MakeJobs: 2, // no LockDigest: as build/extension builds its parent cells
	}
	cells := []build.Cell{cell186}
	res, err := build.Build(ctx, cfg, cells)
	if err != nil {
		t.Fatal(err)
	}
	r := res[0]
	if r.State != event.StateBuilt && r.State != event.StateCached {
		t.Fatalf("%s: state %s, want built", r.Cell, r.State)
	}
	t.Logf("%s: %s in %v, package %s", r.Cell, r.State, r.Duration.Round(time.Second), r.Package)
	checkPackage(t, cfg, cell186, r)
	runExtracted(t, r.PackagePath, "18.6", checkMesonInstall, checkPGXS)

	vres, err := build.Verify(ctx, cfg, cells)
	if err != nil {
		t.Fatal(err)
	}
	if v := vres[0]; v.State != event.StateVerified || v.Rebuilt != r.Package {
		t.Errorf("%s: verify state %s, package %s rebuilt %s", v.Cell, v.State, r.Package, v.Rebuilt)
	}
}

// checkMesonInstall checks pg_config and the installed layout.
func checkMesonInstall(x extracted) {
	t := x.T
	for flag, rel := range map[string]string{
		"--bindir": "bin", "--libdir": "lib", "--pkglibdir": "lib", "--includedir": "include", "--pkgincludedir": "include",
		"--includedir-server": "include/server", "--sharedir": "share", "--sysconfdir": "etc", "--localedir": "share/locale",
		"--docdir": "share/doc", "--htmldir": "share/doc/html", "--mandir": "share/man", "--pgxs": "lib/pgxs/src/makefiles/pgxs.mk",
	} {
		if got, want := x.Run("pg_config", flag), filepath.Join(x.Dir, rel); got != want {
			t.Errorf("pg_config %s = %s, want %s", flag, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(x.Dir, "lib/pgxs/src/Makefile.global")); err != nil {
		t.Errorf("PGXS Makefile.global not installed: %v", err)
	}
	all := x.Run("pg_config")
	if strings.Contains(all, "x86_64-linux-gnu") {
		t.Errorf("pg_config names a multiarch dir:\n%s", all)
	}
	cflags := strings.Fields(x.Run("pg_config", "--cflags"))
	var opt []string
	for _, f := range cflags {
		if strings.HasPrefix(f, "-O") {
			opt = append(opt, f)
		}
	}
	if len(opt) != 1 || opt[0] != "-O2" {
		t.Errorf("pg_config --cflags records optimization %v, want exactly -O2: %v", opt, cflags)
	}
	filepath.WalkDir(x.Dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() && strings.Contains(d.Name(), "linux-gnu") {
			t.Errorf("installed layout has %s", p)
		}
		return nil
	})
}

// checkPGXS builds a small C extension with the host's make and cc through
// the extracted package's pg_config and PGXS, installs it there, and loads it.
func checkPGXS(x extracted) {
	t := x.T
	for _, tool := range []string{"make", "cc"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Logf("PGXS check skipped: no %s on the host", tool)
			return
		}
	}
	dir := t.TempDir()
	files := map[string]string{
		"Makefile":        "MODULES = answer\nEXTENSION = answer\nDATA = answer--1.0.sql\nPGXS := $(shell $(PG_CONFIG) --pgxs)\ninclude $(PGXS)\n",
		"answer.control":  "default_version = '1.0'\nmodule_pathname = '$libdir/answer'\nrelocatable = true\n",
		"answer--1.0.sql": "CREATE FUNCTION answer() RETURNS int AS 'MODULE_PATHNAME' LANGUAGE C STRICT;\n",
		"answer.c": "#include \"postgres.h\"\n#include \"fmgr.h\"\nPG_MODULE_MAGIC;\nPG_FUNCTION_INFO_V1(answer);\n" +
			"Datum answer(PG_FUNCTION_ARGS) { PG_RETURN_INT32(42); }\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("make", "PG_CONFIG="+filepath.Join(x.Dir, "bin", "pg_config"), "install")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("PGXS build against the extracted package: %v\n%s", err, out)
	}
	so, err := elf.Open(filepath.Join(x.Dir, "lib", "answer.so"))
	if err != nil {
		t.Fatalf("PGXS did not install into the package's lib/: %v", err)
	}
	// PGXS links with the package's LDFLAGS: the relative RUNPATH, intact.
	if rp, _ := so.DynString(elf.DT_RUNPATH); len(rp) != 1 || rp[0] != "$ORIGIN/../lib" {
		t.Errorf("PGXS-built answer.so has RUNPATH %q, want $ORIGIN/../lib", rp)
	}
	so.Close()
	x.Psql("CREATE EXTENSION answer")
	if got := x.Psql("SELECT answer()"); got != "42" {
		t.Errorf("SELECT answer() = %q", got)
	}
}
