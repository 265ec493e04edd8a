package build

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monogres/monogres/plugins"

	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/plugins/sdk"
)

func extCell(arch string) Cell {
	parent := Cell{Name: "postgres~15.18~barebones~" + arch, PostgresVersion: "15.18", Major: 15, OptionSet: "barebones", Arch: arch}
	return ExtensionCell("demo~1.2~postgres~15.18~barebones~"+arch, parent,
		lock.Input{Name: "extension/demo/1.2", SHA256: strings.Repeat("a", 64), StripPrefix: "demo-1.2"},
		Extension{Name: "demo", Version: "1.2"})
}

func TestPGXSPlanPerArch(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "Makefile"), []byte("EXTENSION = demo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for arch, want := range map[string]string{
		"amd64": "make USE_PGXS=1 PG_CONFIG=/build/pg/bin/pg_config rpathdir=$$ORIGIN/../lib|make USE_PGXS=1 PG_CONFIG=/build/pg/bin/pg_config rpathdir=$$ORIGIN/../lib install DESTDIR=/build/out",
		"arm64": "make USE_PGXS=1 PG_CONFIG=/build/pg/bin/pg_config rpathdir=$$ORIGIN/../lib CC=aarch64-linux-gnu-gcc|make USE_PGXS=1 PG_CONFIG=/build/pg/bin/pg_config rpathdir=$$ORIGIN/../lib CC=aarch64-linux-gnu-gcc install DESTDIR=/build/out",
	} {
		p, err := plugins.PGXS{}.Plan(context.Background(), Request(extCell(arch)), os.DirFS(dir))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range p.Commands {
			got = append(got, strings.Join(c.Argv, " "))
		}
		if g := strings.Join(got, "|"); g != want {
			t.Errorf("%s: commands\n%s\nwant\n%s", arch, g, want)
		}
	}
}

func TestExtensionSmokeScript(t *testing.T) {
	c := extCell("amd64")
	s := SmokeScript(c)
	for _, want := range []string{
		`for f in "$EXT"/share/extension/*.control; do`,
		`q "CREATE EXTENSION IF NOT EXISTS \"$x\" CASCADE"`,
		`make USE_PGXS=1 PG_CONFIG="$PG/bin/pg_config" installcheck`,
		"PG=" + SmokeDir, "EXT=" + ExtDir,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("smoke script lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "postgresql.conf") {
		t.Errorf("no settings, but the smoke script writes postgresql.conf:\n%s", s)
	}
	c.Extension.Settings = Settings{SmokeSQL: []string{"SELECT demo() = 1"}, SharedPreloadLibraries: []string{"demo"}, Conf: []string{"wal_level = logical"}, Regress: "skip"}
	s = extensionSmokeScript(c.Extension, c.Extension.Settings.withPlan(sdk.Plan{SharedPreloadLibraries: []string{"demo", "other"}, Conf: []string{"x.y = 1"}}), nil)
	for _, want := range []string{
		`r=$(q 'SELECT demo() = 1')`,
		`test "$r" != f`,
		`echo 'shared_preload_libraries = '\''demo,other'\''' >>/tmp/data/postgresql.conf`,
		`echo 'wal_level = logical' >>/tmp/data/postgresql.conf`,
		`echo 'x.y = 1' >>/tmp/data/postgresql.conf`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("smoke script lacks %q:\n%s", want, s)
		}
	}
	for _, not := range []string{"*.control", "installcheck"} {
		if strings.Contains(s, not) {
			t.Errorf("smoke_sql and regress = skip, but the script has %q", not)
		}
	}

	// make_args reach make installcheck for the make-based recipes (the
	// Makefile may need them to parse), not configure's or cmake's args.
	c = extCell("amd64")
	c.Extension.Settings = Settings{Args: []string{"LUA=lua5.3", `PG_CPPFLAGS=-DX=\"y\"`}}
	want := `PG_CONFIG="$PG/bin/pg_config" LUA=lua5.3 'PG_CPPFLAGS=-DX=\"y\"' installcheck)`
	for _, recipe := range []string{"", "pgxs", "make"} {
		if s := SmokeScript(c.WithRecipe(recipe, lock.Input{})); !strings.Contains(s, want) {
			t.Errorf("recipe %q: smoke script lacks %q:\n%s", recipe, want, s)
		}
	}
	for _, recipe := range []string{"configure", "cmake", "plugin:demo"} {
		if s := SmokeScript(c.WithRecipe(recipe, lock.Input{})); !strings.Contains(s, `PG_CONFIG="$PG/bin/pg_config" installcheck)`) {
			t.Errorf("recipe %q: its Args are not make's, but make installcheck gets them:\n%s", recipe, s)
		}
	}
}

// TestActionKey: every input of the action changes its key; nothing else
// does.
func TestExtensionActionKey(t *testing.T) {
	base := Action{
		RecipeVersion: ExtensionRecipeVersion, Cell: "c", Arch: "amd64", RootDigest: "r",
		Inputs: []ActionInput{{Path: PGDir, SHA256: "p"}, {Path: SrcDir, SHA256: "s"}},
		Recipe: "pgxs", Plan: &sdk.Plan{Protocol: 1, Commands: []sdk.Command{{Argv: []string{"make"}}}},
		Command: Command{Arguments: []string{"/bin/sh", "-c", "make"}}, Smoke: "x",
	}
	if base.Key() != base.Key() {
		t.Fatal("key is not stable")
	}
	seen := map[string]string{base.Key(): "base"}
	for name, mut := range map[string]func(*Action){
		"parent package": func(a *Action) {
			a.Inputs = []ActionInput{{Path: PGDir, SHA256: "p2"}, {Path: SrcDir, SHA256: "s"}}
		},
		"source": func(a *Action) {
			a.Inputs = []ActionInput{{Path: PGDir, SHA256: "p"}, {Path: SrcDir, SHA256: "s2"}}
		},
		"root":   func(a *Action) { a.RootDigest = "r2" },
		"arch":   func(a *Action) { a.Arch = "arm64" },
		"plan":   func(a *Action) { a.Plan = &sdk.Plan{Protocol: 1, Files: []sdk.File{{Path: "x", Content: "y"}}} },
		"recipe": func(a *Action) { a.Recipe = "plugin:x" },
		"smoke":  func(a *Action) { a.Smoke = "y" },
	} {
		a := base
		mut(&a)
		k := a.Key()
		if prev, dup := seen[k]; dup {
			t.Errorf("changing the %s gives the key of %s", name, prev)
		}
		seen[k] = name
	}
}

func TestCollect(t *testing.T) {
	write := func(root string, files ...string) {
		for _, f := range files {
			p := filepath.Join(root, filepath.FromSlash(f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	setup := func(installed ...string) (out, pg string) {
		dir := t.TempDir()
		out, pg = filepath.Join(dir, "out"), filepath.Join(dir, "pg")
		write(pg, "bin/postgres", "lib/plpgsql.so", "share/extension/plpgsql.control")
		write(out, installed...)
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		return out, pg
	}

	out, pg := setup("build/pg/lib/demo.so", "build/pg/share/extension/demo.control")
	got, err := collect(out, pg, nil)
	if err != nil || got != filepath.Join(out, "build/pg") {
		t.Errorf("collect = %q, %v; want the install below %s", got, err, PGDir)
	}

	out, pg = setup("build/pg/lib/demo.so", "build/pg/share/doc/demo.md")
	got, err = collect(out, pg, []string{"build/pg/lib"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(got, "lib/demo.so")); err != nil {
		t.Errorf("selected tree lacks lib/demo.so: %v", err)
	}
	if _, err := os.Stat(filepath.Join(got, "share/doc/demo.md")); err == nil {
		t.Errorf("selected tree has share/doc/demo.md, which no pattern selects")
	}

	for name, tc := range map[string]struct {
		installed []string
		want      string
	}{
		"outside":   {[]string{"build/pg/lib/demo.so", "etc/demo.conf"}, "/etc/demo.conf was installed outside the Postgres tree /build/pg"},
		"overwrite": {[]string{"build/pg/lib/plpgsql.so"}, "installs lib/plpgsql.so, which the Postgres package already has"},
		"empty":     {nil, "nothing was installed below /build/out/build/pg"},
	} {
		out, pg := setup(tc.installed...)
		_, err := collect(out, pg, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", name, err, tc.want)
		}
	}
}

func TestUnknownRecipe(t *testing.T) {
	e := &engine{}
	c := extCell("amd64")
	c.Recipe = "meson"
	if _, _, err := e.recipe(context.Background(), c, 0, nil); err == nil || !strings.Contains(err.Error(), `build = "meson"`) {
		t.Errorf("err %v, want one naming build = \"meson\"", err)
	}
	c.Recipe = "plugin:fix"
	if _, _, err := e.recipe(context.Background(), c, 0, nil); err == nil || !strings.Contains(err.Error(), "no plugin input plugin/fix") {
		t.Errorf("err %v, want one naming the missing plugin input", err)
	}
}

// TestExtensionEnvMapsSandboxPaths: every extension build maps the parent's
// include dir (headers' inline functions record __FILE__: seen in
// TimescaleDB's .so as /build/pg/include/server/access/tableam.h) to the
// install prefix, through COPT (PGXS) and CFLAGS (configure, CMake).
func TestExtensionEnvMapsSandboxPaths(t *testing.T) {
	a, err := newAction(extCell("amd64"), "r", []string{"p"}, 1, sdk.Plan{Protocol: 1, Commands: []sdk.Command{{Argv: []string{"make"}}}})
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Join(a.Env(), "\n")
	for _, want := range []string{"COPT=-ffile-prefix-map=/build/pg=/usr/local/pgsql ", "CFLAGS=-O2 -ffile-prefix-map=/build/pg=/usr/local/pgsql ", "CXXFLAGS=-O2 -ffile-prefix-map=/build/pg=/usr/local/pgsql "} {
		if !strings.Contains(env, want) {
			t.Errorf("extension build env lacks %q:\n%s", want, env)
		}
	}
}
