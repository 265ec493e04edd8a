package build

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/monogres/monogres/lock"
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

func TestConfigureRecipe(t *testing.T) {
	r, err := RecipeFor(testCell(15, "arm64", "zlib"))
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		append([]string{"./configure"}, ConfigureArgs(testCell(15, "arm64", "zlib"))...),
		{"make", "-j$MONOGRES_JOBS", "AROPT=crsD", "rpathdir=$$ORIGIN/../lib", "ZIC=/usr/sbin/zic", "world-bin"},
		{"make", "AROPT=crsD", "rpathdir=$$ORIGIN/../lib", "ZIC=/usr/sbin/zic", "DESTDIR=/build/out/root", "install-strip"},
		{"make", "-C", "contrib", "AROPT=crsD", "rpathdir=$$ORIGIN/../lib", "ZIC=/usr/sbin/zic", "DESTDIR=/build/out/root", "install-strip"},
	}
	if d := cmp.Diff(want, r.Steps); d != "" {
		t.Errorf("steps (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"PKG_CONFIG_LIBDIR=/usr/lib/aarch64-linux-gnu/pkgconfig:/usr/share/pkgconfig", "PKG_CONFIG_PATH="}, r.Env); d != "" {
		t.Errorf("env (-want +got):\n%s", d)
	}
	if r.System != "configure" || r.Dir != SrcDir || !r.Strip {
		t.Errorf("recipe %+v", r)
	}
	d, _ := RecipeFor(testCell(15, "amd64", "debug", "cassert"))
	if d.Strip || d.Steps[len(d.Steps)-1][len(d.Steps[len(d.Steps)-1])-1] != "install-world-bin" {
		t.Errorf("debug recipe strips or does not install world-bin: %v", d.Steps)
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
			append(append([]string{}, base...), "--cross-file=/build/work/cross-arm64.ini", "-Dzstd=enabled")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if d := cmp.Diff(tc.want, MesonArgs(tc.cell)); d != "" {
				t.Errorf("MesonArgs (-want +got):\n%s", d)
			}
		})
	}
	r, err := RecipeFor(testCell(16, "arm64"))
	if err != nil {
		t.Fatal(err)
	}
	if r.System != "meson" || len(r.Files) != 1 || !strings.Contains(r.Files[0].Content, "c = 'aarch64-linux-gnu-gcc'") {
		t.Errorf("meson arm64 recipe: %+v", r)
	}
	want := [][]string{
		append([]string{"meson", "setup", "/build/work/build", "/build/src"}, MesonArgs(testCell(16, "arm64"))...),
		{"ninja", "-C", "/build/work/build", "-j", "$MONOGRES_JOBS"},
		{"meson", "install", "-C", "/build/work/build", "--destdir", "/build/out/root", "--no-rebuild", "--quiet", "--strip"},
		{"sed", "-i", `s/\$ORIGIN/'$$ORIGIN'/g`, "/build/out/root/usr/local/pgsql/lib/pgxs/src/Makefile.global"},
	}
	if d := cmp.Diff(want, r.Steps); d != "" {
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
		_, err := RecipeFor(tc.cell)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("RecipeFor(%v %v): %v, want %q", tc.cell.Arch, tc.cell.Options, err, tc.want)
		}
	}
}

func TestCrossUnsupported(t *testing.T) {
	if d := cmp.Diff([]string{"llvm", "plperl", "plpython", "pltcl"}, CrossUnsupported()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestScriptQuoting(t *testing.T) {
	s := Script(Recipe{Dir: "/build/src", Files: []File{{Path: "/build/work/x.ini", Content: "a = 'b'\n"}},
		Steps: [][]string{{"make", "-j$MONOGRES_JOBS", "rpathdir=$$ORIGIN/../lib", "it's"}}})
	want := "set -eu\ncat > /build/work/x.ini <<'MONOGRES_EOF'\na = 'b'\nMONOGRES_EOF\ncd /build/src\n" +
		"echo '+ make -j$MONOGRES_JOBS rpathdir=$$ORIGIN/../lib it'\\''s'\n" +
		"make -j\"$MONOGRES_JOBS\" 'rpathdir=$$ORIGIN/../lib' 'it'\\''s'\n"
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
	r, err := RecipeFor(testCell(18, "amd64"))
	if err != nil {
		t.Fatal(err)
	}
	step := r.Steps[len(r.Steps)-1]
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
	script := Script(Recipe{Dir: dir, Steps: [][]string{append(step[:len(step)-1:len(step)-1], mg)}})
	if out, err := exec.Command("/bin/sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got := show(); got != "-Wl,--as-needed\n-Wl,-rpath,$ORIGIN/../lib,--enable-new-dtags" {
		t.Errorf("LDFLAGS after the step: %s", got)
	}
}
