package build

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
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
// CREATE EXTENSION of two contrib modules, the checks of smokeOptions, stop.
func SmokeScript(c Cell) string {
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
// JIT section prove llvmjit.so loaded), with plpython a plpython3u function
// runs.
func smokeOptions(c Cell) string {
	var s string
	if slices.Contains(c.Options, "llvm") {
		s += `echo "+ JIT-compiled query"
test "$(q 'SELECT pg_jit_available()')" = t || { echo "pg_jit_available() is false: llvmjit.so does not load"; exit 1; }
q 'SET jit = on; SET jit_above_cost = 0; SET jit_inline_above_cost = 0; SET jit_optimize_above_cost = 0; EXPLAIN (ANALYZE, COSTS OFF) SELECT sum(x) FROM generate_series(1, 1000) x' >/tmp/jit.txt
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

// binfmtMagic and binfmtMask match aarch64 ELF executables (as Debian's
// qemu-user-static registers them).
const (
	binfmtMagic = `\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00`
	binfmtMask  = `\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff`
	binfmtDir   = "/proc/sys/fs/binfmt_misc"
)

// EnsureBinfmt makes arm64 programs executable for the smoke test. As root
// it mounts binfmt_misc if it is not mounted. A
// registration named qemu-aarch64 (any name containing "aarch64") that is
// enabled is enough when it has the F flag (the interpreter was opened at
// registration and works in any mount namespace) or when its interpreter
// path exists in root. Otherwise, as root, it registers qemuInRoot (the
// toolchain root's qemu-aarch64-static, a host path) as
// "monogres-qemu-aarch64" with flag F (fix binary), as Debian's
// qemu-user-static does. The registration is host-wide and persists.
func EnsureBinfmt(root, qemuInRoot string) error {
	if _, err := os.Stat(filepath.Join(binfmtDir, "status")); err != nil && os.Geteuid() == 0 {
		// Not mounted (common on fresh machines without binfmt-support).
		_ = unix.Mount("binfmt_misc", binfmtDir, "binfmt_misc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	}
	if _, err := os.Stat(filepath.Join(binfmtDir, "status")); err != nil {
		return fmt.Errorf("build: arm64 smoke test needs binfmt_misc, which is not mounted at %s: run `mount -t binfmt_misc binfmt_misc %s` as root, or install qemu-user-static and binfmt-support", binfmtDir, binfmtDir)
	}
	entries, _ := filepath.Glob(filepath.Join(binfmtDir, "*aarch64*"))
	var seen []string
	for _, e := range entries {
		b, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		enabled, interp, flags := parseBinfmt(string(b))
		if !enabled {
			seen = append(seen, filepath.Base(e)+" (disabled)")
			continue
		}
		if strings.Contains(flags, "F") {
			return nil
		}
		if _, err := os.Stat(filepath.Join(root, interp)); err == nil {
			return nil
		}
		seen = append(seen, fmt.Sprintf("%s (interpreter %s, flags %q: not in the toolchain root and no F flag)", filepath.Base(e), interp, flags))
	}
	if _, err := os.Stat(qemuInRoot); err != nil {
		return fmt.Errorf("build: arm64 smoke test: no usable binfmt_misc registration for aarch64 %v, and the toolchain root has no %s to register", seen, qemuInRoot)
	}
	reg := fmt.Sprintf(":monogres-qemu-aarch64:M::%s:%s:%s:F", binfmtMagic, binfmtMask, qemuInRoot)
	if err := os.WriteFile(filepath.Join(binfmtDir, "register"), []byte(reg), 0o200); err != nil {
		if os.IsExist(err) || bytes.Contains([]byte(err.Error()), []byte("file exists")) {
			return nil // registered concurrently
		}
		return fmt.Errorf("build: arm64 smoke test: registering %s with binfmt_misc failed (%v); as root run `apt-get install qemu-user-static binfmt-support` (Debian registers it with the F flag), or register it by hand", qemuInRoot, err)
	}
	return nil
}

// parseBinfmt reads a /proc/sys/fs/binfmt_misc entry.
func parseBinfmt(s string) (enabled bool, interp, flags string) {
	for _, line := range strings.Split(s, "\n") {
		switch {
		case line == "enabled":
			enabled = true
		case strings.HasPrefix(line, "interpreter "):
			interp = strings.TrimPrefix(line, "interpreter ")
		case strings.HasPrefix(line, "flags: "):
			flags = strings.TrimPrefix(line, "flags: ")
		}
	}
	return
}

// smokeNeedsEmulation reports whether the smoke test of c runs foreign
// binaries.
func smokeNeedsEmulation(c Cell) bool { return c.Arch != nativeArch }
