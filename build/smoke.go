package build

import (
	"slices"

	"github.com/monogres/monogres/build/sandbox"
)

// SmokeDir is where the smoke test mounts the install, on purpose not
// Prefix: the test also proves the install is relocatable.
const SmokeDir = "/pg"

// SmokeUID is the uid the smoke test runs as (initdb refuses root); the
// composed roots name it "postgres" in /etc/passwd.
const SmokeUID = 1000

// SmokeScript is the smoke test of a cell's install, run in the sandbox as
// SmokeUID with the install at SmokeDir: postgres --version, pg_config
// reports paths below SmokeDir and the PGXS makefile is installed, initdb
// into /tmp, start the server on a unix socket in /tmp, SELECT version(),
// CREATE EXTENSION of two contrib modules, the checks of smokeOptions,
// stop. An extension cell gets the extension's smoke test
// (extensionSmokeScript).
func SmokeScript(c Cell) string {
	if c.Extension != nil {
		return extensionSmokeScript(c.Extension, c.Extension.Settings, installcheckArgs(c))
	}
	return `set -eu
PG=` + SmokeDir + `
echo "+ postgres --version"
"$PG/bin/postgres" --version
test "$("$PG/bin/pg_config" --sharedir)" = "$PG/share" || { echo "pg_config --sharedir is $("$PG/bin/pg_config" --sharedir), want $PG/share: the install is not relocatable"; exit 1; }
test "$("$PG/bin/pg_config" --libdir)" = "$PG/lib" || { echo "pg_config --libdir is $("$PG/bin/pg_config" --libdir), want $PG/lib"; exit 1; }
test -f "$("$PG/bin/pg_config" --pgxs)" || { echo "pg_config --pgxs names $("$PG/bin/pg_config" --pgxs), which is not installed"; exit 1; }
test "$("$PG/bin/pg_config" --pkglibdir)" = "$PG/lib" || { echo "pg_config --pkglibdir is $("$PG/bin/pg_config" --pkglibdir), want $PG/lib"; exit 1; }
echo "+ initdb"
"$PG/bin/initdb" -D /tmp/data -U postgres -A trust --no-sync >/tmp/initdb.log 2>&1 || { cat /tmp/initdb.log; exit 1; }
echo "+ pg_ctl start"
"$PG/bin/pg_ctl" -D /tmp/data -o "-k /tmp -c listen_addresses=" -l /tmp/server.log -w -t 120 start >/dev/null || { cat /tmp/server.log; exit 1; }
q() { "$PG/bin/psql" -X -h /tmp -U postgres -d postgres -v ON_ERROR_STOP=1 -At -c "$1"; }
echo "+ SELECT version()"
v=$(q 'SELECT version()')
echo "$v"
case "$v" in "PostgreSQL ` + c.PostgresVersion + ` "*) ;; *) echo "server reports $v, want PostgreSQL ` + c.PostgresVersion + `"; exit 1;; esac
echo "+ CREATE EXTENSION pg_trgm, hstore"
q 'CREATE EXTENSION pg_trgm'
q 'CREATE EXTENSION hstore'
test "$(q "SELECT similarity('monogres', 'monogres')")" = 1
test "$(q "SELECT ('a=>1'::hstore)->'a'")" = 1
` + smokeOptions(c) + `echo "+ pg_ctl stop"
"$PG/bin/pg_ctl" -D /tmp/data -w -t 120 stop >/dev/null
echo "smoke test passed"
`
}

// smokeOptions are the smoke checks of options that load code at run
// time: with llvm a query is JIT-compiled (pg_jit_available and EXPLAIN's
// JIT section prove llvmjit.so loaded; EXPLAIN prints that section only
// with COSTS on, so the costs stay), with plpython a plpython3u function
// runs.
func smokeOptions(c Cell) string {
	var s string
	if slices.Contains(c.Options, "llvm") {
		s += `echo "+ JIT-compiled query"
test "$(q 'SELECT pg_jit_available()')" = t || { echo "pg_jit_available() is false: llvmjit.so does not load"; exit 1; }
q 'SET jit = on; SET jit_above_cost = 0; SET jit_inline_above_cost = 0; SET jit_optimize_above_cost = 0; EXPLAIN (ANALYZE) SELECT sum(x) FROM generate_series(1, 1000) x' >/tmp/jit.txt
grep -q 'Functions: [1-9]' /tmp/jit.txt || { cat /tmp/jit.txt; echo "the query was not JIT-compiled"; exit 1; }
`
	}
	if slices.Contains(c.Options, "plpython") {
		s += `echo "+ CREATE EXTENSION plpython3u"
q 'CREATE EXTENSION plpython3u'
q "CREATE FUNCTION py_add(a int, b int) RETURNS int LANGUAGE plpython3u AS 'return a + b'"
test "$(q 'SELECT py_add(40, 2)')" = 42
`
	}
	return s
}

// Emulation is what a sandbox over the toolchain root needs to run the
// programs built for arch: nothing for native ones; for arm64, the root's
// qemu-aarch64-static registered in the sandbox's own binfmt_misc instance
// (never the host's).
func Emulation(arch string) []sandbox.Binfmt {
	if arch == nativeArch {
		return nil
	}
	return []sandbox.Binfmt{sandbox.QemuAarch64("/usr/bin/qemu-aarch64-static")}
}
