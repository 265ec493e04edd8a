package build

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/plugins/sdk"
)

func testCell(major int, arch string, opts ...string) Cell {
	v := map[int]string{15: "15.18", 16: "16.9", 17: "17.5", 18: "18.0"}[major]
	return Cell{Name: "postgres~" + v + "~x~" + arch, PostgresVersion: v, Major: major, OptionSet: "x", Options: opts, Arch: arch,
		Source: lock.Input{Name: "postgres/" + v, SHA256: strings.Repeat("a", 64), StripPrefix: "postgresql-" + v}}
}

const cf = "CFLAGS=-O2 -ffile-prefix-map=/build/src=. -ffile-prefix-map=/build/work=."

func TestConfigureArgs(t *testing.T) {
	for _, tc := range []struct {
		name string
		cell Cell
		want []string
	}{
		{"barebones amd64", testCell(15, "amd64"),
			[]string{"--prefix=/usr/local/pgsql", "--without-readline", "--without-zlib", "--without-icu", cf}},
		{"barebones 14 has no icu default", testCell(14, "amd64"),
			[]string{"--prefix=/usr/local/pgsql", "--without-readline", "--without-zlib", cf}},
		{"minimal amd64", testCell(15, "amd64", "nls", "openssl", "readline", "uuid", "zlib"),
			[]string{"--prefix=/usr/local/pgsql", "--without-icu", "--enable-nls", "--with-ssl=openssl", "--with-uuid=e2fs", cf}},
		{"barebones arm64", testCell(15, "arm64"),
			[]string{"--prefix=/usr/local/pgsql", "--build=x86_64-linux-gnu", "--host=aarch64-linux-gnu", "--without-readline", "--without-zlib", "--without-icu", cf}},
		{"regular amd64", testCell(15, "amd64", "icu", "llvm", "lz4", "nls", "openssl", "plpython", "readline", "systemd", "uuid", "zlib", "zstd"),
			[]string{"--prefix=/usr/local/pgsql", "--with-llvm", "LLVM_CONFIG=/usr/bin/llvm-config-14", "CLANG=/usr/bin/clang-14", "--with-lz4",
				"--enable-nls", "--with-ssl=openssl", "--with-python", "PYTHON=/usr/bin/python3", "--with-systemd", "--with-uuid=e2fs", "--with-zstd", cf}},
		{"debug", testCell(15, "amd64", "cassert", "debug"),
			[]string{"--prefix=/usr/local/pgsql", "--without-readline", "--without-zlib", "--without-icu", "--enable-cassert", "--enable-debug",
				"CFLAGS=-O2 -ffile-prefix-map=/build/src=. -ffile-prefix-map=/build/work=. -ggdb -fno-omit-frame-pointer"}},
		{"full extras", testCell(15, "amd64", "gssapi", "ldap", "libxml", "libxslt", "pam", "plperl", "pltcl", "selinux"),
			[]string{"--prefix=/usr/local/pgsql", "--without-readline", "--without-zlib", "--without-icu", "--with-gssapi", "--with-ldap", "--with-libxml",
				"--with-libxslt", "--with-pam", "--with-perl", "--with-tcl", "--with-tclconfig=/usr/lib/tcl8.6", "--with-selinux", cf}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, ConfigureArgs(tc.cell)); d != "" {
				t.Errorf("ConfigureArgs (-want +got):\n%s", d)
			}
		})
	}
}

// planOf is the built-in recipe's plan of c.
func planOf(t *testing.T, c Cell) sdk.Plan {
	t.Helper()
	p, err := PostgresRecipe{}.Plan(context.Background(), Request(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("the built-in plan of %s is not a valid plan: %v", c.Name, err)
	}
	return p
}

// argvs are the argv lists of a plan's commands.
func argvs(p sdk.Plan) [][]string {
	var out [][]string
	for _, c := range p.Commands {
		out = append(out, c.Argv)
	}
	return out
}

func TestConfigureRecipe(t *testing.T) {
	r := planOf(t, testCell(15, "arm64", "zlib"))
	want := [][]string{
		append([]string{"./configure"}, ConfigureArgs(testCell(15, "arm64", "zlib"))...),
		{"make", "-j$MONOGRES_JOBS", "AROPT=crsD", "rpathdir=$$ORIGIN/../lib", "ZIC=/usr/sbin/zic", "world-bin"},
		{"make", "AROPT=crsD", "rpathdir=$$ORIGIN/../lib", "ZIC=/usr/sbin/zic", "DESTDIR=/build/out/root", "install-strip"},
		{"make", "-C", "contrib", "AROPT=crsD", "rpathdir=$$ORIGIN/../lib", "ZIC=/usr/sbin/zic", "DESTDIR=/build/out/root", "install-strip"},
	}
	if d := cmp.Diff(want, argvs(r)); d != "" {
		t.Errorf("steps (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{"PKG_CONFIG_LIBDIR": "/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig", "PKG_CONFIG_PATH": ""}, r.Env); d != "" {
		t.Errorf("env (-want +got):\n%s", d)
	}
	if len(r.Files)+len(r.Patches)+len(r.Package) != 0 {
		t.Errorf("configure plan has files, patches or package patterns: %+v", r)
	}
	d := argvs(planOf(t, testCell(15, "amd64", "debug", "cassert")))
	if last := d[len(d)-1]; last[len(last)-1] != "install-world-bin" {
		t.Errorf("debug recipe strips or does not install world-bin: %v", d)
	}
}

func TestMesonArgs(t *testing.T) {
	const pm = "-ffile-prefix-map=/build/src=. -ffile-prefix-map=/build/work=."
	const link = "-Wl,-rpath,$ORIGIN/../lib,--enable-new-dtags"
	dirs := []string{"--prefix=/usr/local/pgsql", "--bindir=bin", "--libdir=lib", "--includedir=include", "--datadir=share",
		"--sysconfdir=etc", "--localedir=share/locale", "--mandir=share/man"}
	base := slices.Concat(dirs, []string{"-Doptimization=2", "-Ddebug=false", "-Dauto_features=disabled", "-Drpath=false",
		"-Dc_args=" + pm, "-Dcpp_args=" + pm, "-Dc_link_args=" + link, "-Dcpp_link_args=" + link})
	for _, tc := range []struct {
		name string
		cell Cell
		want []string
	}{
		{"barebones 16", testCell(16, "amd64"), base},
		{"minimal 17", testCell(17, "amd64", "nls", "openssl", "readline", "uuid", "zlib"),
			append(append([]string{}, base...), "-Dnls=enabled", "-Dssl=openssl", "-Dreadline=enabled", "-Duuid=e2fs", "-Dzlib=enabled")},
		{"full 18 extras", testCell(18, "amd64", "libcurl", "libnuma", "liburing"),
			append(append([]string{}, base...), "-Dlibcurl=enabled", "-Dlibnuma=enabled", "-Dliburing=enabled")},
		{"debug 17", testCell(17, "amd64", "cassert", "debug", "injection_points"),
			slices.Concat(dirs, []string{"-Doptimization=2", "-Ddebug=true", "-Dauto_features=disabled", "-Drpath=false",
				"-Dc_args=" + pm + " -ggdb -fno-omit-frame-pointer", "-Dcpp_args=" + pm + " -ggdb -fno-omit-frame-pointer",
				"-Dc_link_args=" + link, "-Dcpp_link_args=" + link, "-Dcassert=true", "-Dinjection_points=true"})},
		{"arm64 16", testCell(16, "arm64", "zstd"),
			append(append([]string{}, base...), "--cross-file=/build/src/.monogres-cross-arm64.ini", "-Dzstd=enabled")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, MesonArgs(tc.cell)); d != "" {
				t.Errorf("MesonArgs (-want +got):\n%s", d)
			}
		})
	}
	r := planOf(t, testCell(16, "arm64"))
	if len(r.Files) != 1 || r.Files[0].Path != ".monogres-cross-arm64.ini" || !strings.Contains(r.Files[0].Content, "c = 'aarch64-linux-gnu-gcc'") {
		t.Errorf("meson arm64 plan writes no cross file: %+v", r.Files)
	}
	if !slices.Contains(r.Commands[0].Argv, "--cross-file=/build/src/.monogres-cross-arm64.ini") {
		t.Errorf("meson setup does not read the cross file: %v", r.Commands[0].Argv)
	}
	want := [][]string{
		append([]string{"meson", "setup", "/build/work/build", "/build/src"}, MesonArgs(testCell(16, "arm64"))...),
		{"ninja", "-C", "/build/work/build", "-j", "$MONOGRES_JOBS"},
		{"meson", "install", "-C", "/build/work/build", "--destdir", "/build/out/root", "--no-rebuild", "--quiet", "--strip"},
		{"sed", "-i", `s/\$ORIGIN/'$$ORIGIN'/g`, "/build/out/root/usr/local/pgsql/lib/pgxs/src/Makefile.global"},
	}
	if d := cmp.Diff(want, argvs(r)); d != "" {
		t.Errorf("meson steps (-want +got):\n%s", d)
	}
}

func TestRecipeErrors(t *testing.T) {
	for _, tc := range []struct {
		cell Cell
		want string
	}{
		{testCell(15, "amd64", "bogus"), `unknown option "bogus"`},
		{testCell(15, "amd64", "liburing"), `option "liburing" needs postgres 18`},
		{testCell(16, "amd64", "injection_points"), `option "injection_points" needs postgres 17`},
		{testCell(15, "arm64", "llvm"), `option "llvm" cannot be cross-compiled for arm64`},
		{testCell(15, "riscv64"), `target arch "riscv64" is not supported`},
		{Cell{}, "cell has no name"},
	} {
		_, err := PostgresRecipe{}.Plan(context.Background(), Request(tc.cell), nil)
		if tc.cell.Name == "" {
			err = checkCell(tc.cell) // the recipe names the cell from the request
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Plan(%v %v): %v, want %q", tc.cell.Arch, tc.cell.Options, err, tc.want)
		}
	}
}

func TestCrossUnsupported(t *testing.T) {
	if d := cmp.Diff([]string{"llvm", "plperl", "plpython", "pltcl"}, CrossUnsupported()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestScriptQuoting(t *testing.T) {
	s := Script(sdk.Plan{Commands: []sdk.Command{
		{Argv: []string{"make", "-j$MONOGRES_JOBS", "rpathdir=$$ORIGIN/../lib", "it's"}},
		{Argv: []string{"make", "install"}, Dir: "sub dir", Env: map[string]string{"PG_CONFIG": "/build/pg/bin/pg_config", "A": "x y"}},
	}})
	want := "set -eu\ncd /build/src\n" +
		"echo '+ make -j$MONOGRES_JOBS rpathdir=$$ORIGIN/../lib it'\\''s'\n" +
		"make -j\"$MONOGRES_JOBS\" 'rpathdir=$$ORIGIN/../lib' 'it'\\''s'\n" +
		"echo '+ make install'\n" +
		"(cd 'sub dir' && env 'A=x y' PG_CONFIG=/build/pg/bin/pg_config make install)\n"
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// TestMesonMakefileGlobalRunpath runs the recipe's Makefile.global step on
// the LDFLAGS line meson writes and has make pass it to a shell command, as
// a PGXS link rule does: $ORIGIN survives both (unescaped, make turned it
// into RIGIN; escaped for make only, the shell turned it into "/../lib").
func TestMesonMakefileGlobalRunpath(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("needs make")
	}
	r := argvs(planOf(t, testCell(18, "amd64")))
	step := r[len(r)-1]
	dir := t.TempDir()
	mg := filepath.Join(dir, "Makefile.global")
	os.WriteFile(mg, []byte("LDFLAGS = -Wl,--as-needed -Wl,-rpath,$ORIGIN/../lib,--enable-new-dtags\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "Makefile"), []byte("include Makefile.global\nall:\n\t@printf '%s\\n' $(LDFLAGS)\n"), 0o644)
	show := func() string {
		out, err := exec.Command("make", "-s", "-C", dir).CombinedOutput()
		if err != nil {
			t.Fatalf("make: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := show(); strings.Contains(got, "$ORIGIN") {
		t.Fatalf("make kept $ORIGIN unescaped (%s): the test shows nothing", got)
	}
	script := Script(sdk.Plan{Commands: []sdk.Command{{Argv: append(step[:len(step)-1:len(step)-1], mg)}}})
	script = strings.Replace(script, "cd "+SrcDir+"\n", "cd "+dir+"\n", 1) // run on the host
	if out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := show(); got != "-Wl,--as-needed\n-Wl,-rpath,$ORIGIN/../lib,--enable-new-dtags" {
		t.Errorf("LDFLAGS after the step: %s", got)
	}
}

// TestMesonCrossFilePkgConfig runs the host's meson (Debian 12's 1.0, as
// in the toolchain root) with the recipe's arm64 cross file on a project
// that needs a pkg-config dependency: meson must find pkg-config for the
// target. With the cross file's old `pkg-config =` entry, which meson 1.0
// does not read, it printed "Found Pkg-config: NO" and regular~arm64 lost
// ICU.
func TestMesonCrossFilePkgConfig(t *testing.T) {
	if _, err := exec.LookPath("meson"); err != nil {
		t.Skip("needs meson (.ci/apt-packages.txt)")
	}
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cf := crossFile("arm64")
	write(cf.Path, cf.Content)
	write("meson.build", "project('probe')\ndependency('monogres-probe', method: 'pkg-config')\n")
	write("pc/monogres-probe.pc", "Name: probe\nDescription: probe\nVersion: 1.2\nCflags:\nLibs:\n")
	cmd := exec.Command("meson", "setup", "--cross-file", filepath.Join(dir, cf.Path), filepath.Join(dir, "b"), dir)
	cmd.Env = append(os.Environ(), "PKG_CONFIG_LIBDIR="+filepath.Join(dir, "pc"), "PKG_CONFIG_PATH=")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Run-time dependency monogres-probe found: YES 1.2") {
		t.Fatalf("meson setup with the arm64 cross file: %v\n%s", err, out)
	}
}
