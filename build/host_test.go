package build_test

import (
	"archive/tar"
	"context"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/klauspost/compress/zstd"
	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/archive"
	"github.com/monogres/monogres/internal/event"
)

// lockDigestRE is the form of a manifest's lock_digest.
var lockDigestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

// checkPackage reads a cell's package and manifest back: entries sorted,
// mtime = SOURCE_DATE_EPOCH, uid/gid 0 without names, normalized modes;
// the manifest lists every file with its sha256; binaries are for the
// target arch, have no RPATH and only the relative RUNPATH, and are
// stripped unless the set is debug; contrib is installed.
func checkPackage(t *testing.T, cfg build.Config, c build.Cell, r build.Result) {
	t.Helper()
	mb, err := os.ReadFile(r.ManifestPath)
	if err != nil {
		t.Fatal(err)
	}
	m, err := build.DecodeManifest(r.ManifestPath, mb)
	if err != nil {
		t.Fatal(err)
	}
	if m.Cell != c.Name || m.ActionKey != r.ActionKey || m.Package != r.Package || m.SourceSHA256 != c.Source.SHA256 {
		t.Errorf("%s: manifest header %+v", c.Name, *m)
	}
	// A cache hit keeps the lock digest of whichever build made it (in the
	// shared test store, often a `monogres build` with the repository's
	// lock); a cell built now records this run's.
	if r.State == event.StateBuilt && m.LockDigest != cfg.LockDigest {
		t.Errorf("%s: built with lock %q, manifest records %q", c.Name, cfg.LockDigest, m.LockDigest)
	}
	if m.LockDigest != "" && !lockDigestRE.MatchString(m.LockDigest) {
		t.Errorf("%s: manifest lock_digest %q is not sha256:<hex>", c.Name, m.LockDigest)
	}
	byPath := map[string]build.FileEntry{}
	for _, f := range m.Files {
		byPath[f.Path] = f
	}
	for _, want := range []string{"bin/postgres", "bin/initdb", "bin/pg_config", "bin/psql", "lib/libpq.so.5", "lib/pg_trgm.so", "lib/hstore.so", "share/extension/hstore.control", "include/server/pg_config.h"} {
		if _, ok := byPath[want]; !ok {
			t.Errorf("%s: package has no %s", c.Name, want)
		}
	}

	f, err := os.Open(r.PackagePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := zstd.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tr := tar.NewReader(zr)
	prev, n := "", 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
		name := strings.TrimSuffix(h.Name, "/")
		if name <= prev {
			t.Errorf("%s: entry %s after %s: not sorted", c.Name, name, prev)
		}
		prev = name
		if h.ModTime.Unix() != m.SourceDateEpoch || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: entry %s: mtime %d uid %d gid %d uname %q gname %q", c.Name, name, h.ModTime.Unix(), h.Uid, h.Gid, h.Uname, h.Gname)
		}
		if mode := h.Mode; h.Typeflag != tar.TypeSymlink && mode != 0o755 && mode != 0o644 {
			t.Errorf("%s: entry %s: mode %o", c.Name, name, mode)
		}
		if fe := byPath[name]; fe.Path == "" || (fe.Type == "file" && fe.Size != h.Size) {
			t.Errorf("%s: entry %s not in the manifest as read (%+v)", c.Name, name, fe)
		}
	}
	if n != len(m.Files) {
		t.Errorf("%s: package has %d entries, manifest %d", c.Name, n, len(m.Files))
	}

	dir := t.TempDir()
	if err := archive.Extract(context.Background(), r.PackagePath, dir, archive.Options{}); err != nil {
		t.Fatal(err)
	}
	wantMachine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[c.Arch]
	debug := contains(c.Options, "debug")
	for _, p := range []string{"bin/postgres", "bin/initdb", "bin/psql", "lib/libpq.so.5", "lib/pg_trgm.so"} {
		ef, err := elf.Open(filepath.Join(dir, p))
		if err != nil {
			t.Errorf("%s: %s: %v", c.Name, p, err)
			continue
		}
		if ef.Machine != wantMachine {
			t.Errorf("%s: %s is for %v, want %v", c.Name, p, ef.Machine, wantMachine)
		}
		if rp, _ := ef.DynString(elf.DT_RPATH); len(rp) > 0 {
			t.Errorf("%s: %s has RPATH %v", c.Name, p, rp)
		}
		if rp, _ := ef.DynString(elf.DT_RUNPATH); len(rp) > 0 && (len(rp) != 1 || rp[0] != "$ORIGIN/../lib") {
			t.Errorf("%s: %s has RUNPATH %v, want only $ORIGIN/../lib", c.Name, p, rp)
		}
		hasSyms := ef.Section(".symtab") != nil
		hasDebug := ef.Section(".debug_info") != nil
		if debug && !hasDebug {
			t.Errorf("%s: %s has no debug info in a debug build", c.Name, p)
		}
		if !debug && (hasSyms || hasDebug) {
			t.Errorf("%s: %s is not stripped (symtab %v, debug_info %v)", c.Name, p, hasSyms, hasDebug)
		}
		ef.Close()
	}
}

// extracted is a package extracted into an arbitrary host directory with
// its server running, for checks run by runExtracted.
type extracted struct {
	T         *testing.T
	Dir, Data string
	// Run runs a program of the package's bin/ as the unprivileged user.
	Run func(argv ...string) string
	// Psql runs one SQL command and returns its unaligned output; TryPsql
	// returns the error (with psql's output) instead of failing the test.
	Psql    func(sql string) string
	TryPsql func(sql string) (string, error)
}

// runExtracted extracts a package into an arbitrary host directory and,
// as an unprivileged user, runs pg_config, initdb and the server from
// there: the install is relocatable and needs no RPATH or LD_LIBRARY_PATH.
// The server must report version; checks run while it is up.
func runExtracted(t *testing.T, pkg, version string, checks ...func(x extracted)) {
	t.Helper()
	runExtractedWith(t, pkg, nil, version, checks...)
}

// runExtractedWith is runExtracted with extension packages extracted over
// the Postgres package, as a user installs them.
func runExtractedWith(t *testing.T, pkg string, exts []string, version string, checks ...func(x extracted)) {
	t.Helper()
	base, err := os.MkdirTemp("", "monogres-reloc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(base) })
	dir := filepath.Join(base, "somewhere", "else")
	if err := archive.Extract(context.Background(), pkg, dir, archive.Options{}); err != nil {
		t.Fatal(err)
	}
	for i, e := range exts {
		x := filepath.Join(base, "ext"+strconv.Itoa(i))
		if err := archive.Extract(context.Background(), e, x, archive.Options{}); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command("cp", "-a", x+"/.", dir+"/").CombinedOutput(); err != nil {
			t.Fatalf("installing %s: %v\n%s", e, err, out)
		}
	}
	data := filepath.Join(base, "data")
	for _, d := range []string{base, filepath.Join(base, "somewhere"), data} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		os.Chmod(d, 0o755)
	}
	const nobody = 65534
	if err := os.Chown(data, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	command := func(argv ...string) *exec.Cmd {
		cmd := exec.Command(filepath.Join(dir, "bin", argv[0]), argv[1:]...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "LC_ALL=C", "TZ=UTC", "HOME=" + data}
		cmd.Dir = data
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		return cmd
	}
	run := func(argv ...string) string {
		t.Helper()
		out, err := command(argv...).CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %v\n%s", argv, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := run("pg_config", "--sharedir"); got != filepath.Join(dir, "share") {
		t.Errorf("pg_config --sharedir from %s = %s", dir, got)
	}
	run("initdb", "-D", filepath.Join(data, "db"), "-U", "postgres", "-A", "trust", "--no-sync")
	sock := data
	run("pg_ctl", "-D", filepath.Join(data, "db"), "-o", "-k "+sock+" -c listen_addresses= -c port=54329", "-l", filepath.Join(data, "log"), "-w", "start")
	defer run("pg_ctl", "-D", filepath.Join(data, "db"), "-w", "stop")
	psqlArgv := func(sql string) []string {
		return []string{"psql", "-X", "-h", sock, "-p", "54329", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-Atc", sql}
	}
	psql := func(sql string) string { return run(psqlArgv(sql)...) }
	tryPsql := func(sql string) (string, error) {
		out, err := command(psqlArgv(sql)...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	if got := psql("SELECT current_setting('server_version'), 1+1"); got != version+"|2" {
		t.Errorf("query from the extracted package: %q, want %s|2", got, version)
	}
	for _, c := range checks {
		c(extracted{T: t, Dir: dir, Data: data, Run: run, Psql: psql, TryPsql: tryPsql})
	}
}
