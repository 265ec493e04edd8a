package build

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/plugins"
	"github.com/monogres/monogres/plugins/sdk"
)

// ExtensionRecipeVersion is part of every extension action key; bump it
// when the build script, packaging or smoke test of extension cells change
// what a build produces.
const ExtensionRecipeVersion = "monogres-extension-recipe-3"

// PGDir holds the parent Postgres package in an extension build,
// read-only; its pg_config is PGConfig and reports paths below PGDir. The
// extension installs into OutDir+PGDir (DESTDIR=OutDir).
const PGDir = "/build/pg"

// PGConfig is the parent's pg_config inside the sandbox.
const PGConfig = PGDir + "/bin/pg_config"

// Request is the recipe request of cell c, exactly as a build sends it
// (also to a plugin run by `monogres plugin run --cell`): for an extension
// cell the extension, its parent's pg_config and the install prefix PGDir;
// for a Postgres cell the options and the install root DestDir.
func Request(c Cell) sdk.Request {
	r := sdk.Request{
		Protocol:  sdk.ProtocolVersion,
		Postgres:  sdk.Postgres{Version: c.PostgresVersion, Major: c.Major},
		OptionSet: c.OptionSet,
		Options:   c.Options,
		Arch:      c.Arch,
		Paths:     sdk.Paths{Source: SrcDir, Out: DestDir, Prefix: Prefix},
	}
	if x := c.Extension; x != nil {
		r.Extension = sdk.Extension{Name: x.Name, Version: x.Version}
		r.Paths = sdk.Paths{Source: SrcDir, Out: OutDir, PGConfig: PGConfig, Prefix: PGDir}
		r.Params = x.Params
	}
	return r
}

// extensionPrefixMap maps the sandbox paths an extension's objects could
// record through __FILE__ (the parent's headers' inline functions, the
// source, a CMake build dir) to the install prefix and ".".
const extensionPrefixMap = "-ffile-prefix-map=" + PGDir + "=" + Prefix + " -ffile-prefix-map=" + SrcDir + "=. -ffile-prefix-map=" + WorkDir + "=."

// extensionEnv is added to every extension build's environment: COPT,
// which Postgres' Makefile.global appends to CFLAGS (PGXS, configure and
// make kinds), and CFLAGS/CXXFLAGS, which ./configure and CMake start
// from, carry extensionPrefixMap.
var extensionEnv = []string{
	"COPT=" + extensionPrefixMap,
	"CFLAGS=-O2 " + extensionPrefixMap,
	"CXXFLAGS=-O2 " + extensionPrefixMap,
}

// ExtDir is where the extension smoke test also mounts the extension's own
// package (read-only), to find the control files it installs.
const ExtDir = "/ext"

// RegressOut is where the smoke test writes the output of the source's
// pg_regress suite (below the built source tree, mounted at SrcDir).
const RegressOut = SrcDir + "/.monogres-regress.out"

// extensionSmokeScript is the smoke test of an extension cell, run in the
// sandbox as SmokeUID with the Postgres package and the extension package
// extracted together at SmokeDir (the extension's alone at ExtDir): initdb
// (UTF8, locale C) into /tmp with the settings' shared_preload_libraries
// and conf lines,
// start the server on a unix socket, then the settings' SmokeSQL, or by
// default CREATE EXTENSION ... CASCADE of every control file the package
// installs, each checked in pg_extension (an error or a result of false
// fails the test). Unless Regress is "skip", a pg_regress suite of the
// built source (REGRESS in its Makefile) then runs against the server with
// make installcheck, given makeArgs (installcheckArgs) too; its output
// goes to RegressOut, and the engine, not the script, decides what a
// failure means. Like the Postgres smoke test it reuses the relocatable
// install: nothing is at the build prefix.
func extensionSmokeScript(x *Extension, st Settings, makeArgs []string) string {
	s := `set -eu
PG=` + SmokeDir + `
EXT=` + ExtDir + `
echo "+ initdb"
"$PG/bin/initdb" -D /tmp/data -U postgres -A trust -E UTF8 --locale=C --no-sync >/tmp/initdb.log 2>&1 || { cat /tmp/initdb.log; exit 1; }
`
	var conf []string
	if len(st.SharedPreloadLibraries) > 0 {
		conf = append(conf, "shared_preload_libraries = '"+strings.Join(st.SharedPreloadLibraries, ",")+"'")
	}
	conf = append(conf, st.Conf...)
	if len(conf) > 0 {
		s += "echo " + shQuote("+ postgresql.conf: "+strings.Join(conf, "; ")) + "\n"
		for _, l := range conf {
			s += "echo " + shQuote(l) + " >>/tmp/data/postgresql.conf\n"
		}
	}
	s += `echo "+ pg_ctl start"
"$PG/bin/pg_ctl" -D /tmp/data -o "-k /tmp -c listen_addresses=" -l /tmp/server.log -w -t 120 start >/dev/null || { cat /tmp/server.log; exit 1; }
stop() { "$PG/bin/pg_ctl" -D /tmp/data -w -t 120 stop >/dev/null; }
fail() { echo "$1"; stop; cat /tmp/server.log; exit 1; }
q() { "$PG/bin/psql" -X -h /tmp -U postgres -d postgres -v ON_ERROR_STOP=1 -At -c "$1" || fail "the statement failed: $1"; }
`
	if len(st.SmokeSQL) == 0 {
		s += `n=0
for f in "$EXT"/share/extension/*.control; do
	test -e "$f" || continue
	x=${f##*/}; x=${x%.control}
	case "$x" in *[!A-Za-z0-9_-]*) fail "control file name $f is not an extension name";; esac
	echo "+ CREATE EXTENSION $x CASCADE"
	q "CREATE EXTENSION IF NOT EXISTS \"$x\" CASCADE"
	v=$(q "SELECT extversion FROM pg_extension WHERE extname = '$x'")
	test -n "$v" || fail "pg_extension has no $x after CREATE EXTENSION"
	echo "$x $v installed"
	n=$((n+1))
done
test "$n" -gt 0 || fail "the package installs no control file (share/extension/*.control) to CREATE EXTENSION: set smoke_sql"
`
	}
	for _, sql := range st.SmokeSQL {
		s += "echo " + shQuote("+ "+sql) + "\nr=$(q " + shQuote(sql) + ")\necho \"$r\"\n" +
			`test "$r" != f || fail "the smoke query returned false"` + "\n"
	}
	if st.Regress != "skip" {
		s += `if test -f ` + SrcDir + `/Makefile && grep -Eq '^[[:space:]]*REGRESS[[:space:]]*[:+?]?=' ` + SrcDir + `/Makefile; then
	echo "+ make installcheck (the extension's pg_regress suite)"
	rc=0
	(cd ` + SrcDir + ` && LD_LIBRARY_PATH="$PG/lib" PGHOST=/tmp PGUSER=postgres PGPORT=5432 PGCLIENTENCODING=UTF8 LC_ALL=C.UTF-8 make USE_PGXS=1 PG_CONFIG="$PG/bin/pg_config"` + quotedArgs(makeArgs) + ` installcheck) >` + RegressOut + ` 2>&1 || rc=$?
	cat ` + RegressOut + `
	echo "monogres-regress-exit $rc" >>` + RegressOut + `
	if test "$rc" != 0 && test -f ` + SrcDir + `/regression.diffs; then echo "+ regression.diffs"; head -c 65536 ` + SrcDir + `/regression.diffs; fi
fi
`
	}
	s += `echo "+ pg_ctl stop"
stop
echo "smoke test passed"
`
	return s
}

// installcheckArgs are the arguments make installcheck gets besides
// PG_CONFIG: the manifest's make_args of a make-based recipe (pgxs, make),
// which the Makefile may need to parse at all (pllua's LUA, whose version
// it asks at parse time) or to find its tests; none for the other recipes,
// whose Args are configure's or cmake's.
func installcheckArgs(c Cell) []string {
	if c.Extension == nil {
		return nil
	}
	switch c.Recipe {
	case "", "pgxs", "make":
		return c.Extension.Args
	}
	return nil
}

// quotedArgs is args as shell words, each after a space ("" for none).
func quotedArgs(args []string) string {
	var b strings.Builder
	for _, a := range args {
		b.WriteString(" " + shQuote(a))
	}
	return b.String()
}

// collect returns the directory to package of an extension build: the
// install below outDir+PGDir, reduced to what patterns select
// (plugins.MatchPackage, relative to outDir). A selected file outside
// PGDir, a file the Postgres package (extracted at pg) already has, and an
// empty install are errors.
func collect(outDir, pg string, patterns []string) (string, error) {
	root := filepath.Join(outDir, strings.TrimPrefix(PGDir, "/"))
	base := strings.TrimPrefix(PGDir, "/") + "/"
	var files []string
	matched := make([]bool, len(patterns))
	err := filepath.WalkDir(outDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(outDir, p)
		rel = filepath.ToSlash(rel)
		for i, pat := range patterns {
			matched[i] = matched[i] || plugins.MatchPattern(pat, rel)
		}
		if !plugins.MatchPackage(patterns, rel) {
			return nil
		}
		if !strings.HasPrefix(rel, base) {
			return fmt.Errorf("%s was installed outside the Postgres tree %s (DESTDIR=%s); an extension package holds only files below it", "/"+rel, PGDir, OutDir)
		}
		in := strings.TrimPrefix(rel, base)
		if _, err := os.Lstat(filepath.Join(pg, filepath.FromSlash(in))); err == nil {
			return fmt.Errorf("the extension installs %s, which the Postgres package already has", in)
		}
		files = append(files, in)
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(files) == 0 {
		return "", fmt.Errorf("nothing was installed below %s%s (or nothing matched the plan's package patterns %q)", OutDir, PGDir, patterns)
	}
	for i, ok := range matched {
		if !ok {
			return "", fmt.Errorf("package[%d] %q matched no installed file", i, patterns[i])
		}
	}
	if len(patterns) == 0 {
		return root, nil
	}
	sel := filepath.Join(outDir, "..", "selected")
	for _, f := range files {
		dst := filepath.Join(sel, filepath.FromSlash(f))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", err
		}
		if err := os.Rename(filepath.Join(root, filepath.FromSlash(f)), dst); err != nil {
			return "", err
		}
	}
	return sel, nil
}

// merge moves the tree at src into dst: directories are merged, a file
// that dst already has is an error.
func merge(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == src {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if _, err := os.Lstat(target); err == nil {
			return fmt.Errorf("%s is in both packages", filepath.ToSlash(rel))
		}
		return os.Rename(p, target)
	})
}

// ExtensionCell is the cell of extension x built against parent: parent's
// target (version, option set, arch) with source as its source.
func ExtensionCell(name string, parent Cell, source lock.Input, x Extension) Cell {
	x.Parent = parent.Name
	c := parent
	c.Name, c.Source, c.Extension = name, source, &x
	c.Recipe, c.Plugin = "", lock.Input{} // the parent's recipe is not the extension's
	return c
}

// WithRecipe is c built with recipe ("plugin:NAME" with the plugin's lock
// input; for an extension also "pgxs", "configure", "cmake", "make").
func (c Cell) WithRecipe(recipe string, plugin lock.Input) Cell {
	c.Recipe, c.Plugin = recipe, plugin
	return c
}
