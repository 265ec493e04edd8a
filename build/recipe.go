package build

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/monogres/monogres/plugins/sdk"
)

// Fixed paths inside the build sandbox. The source is extracted to SrcDir
// (writable: configure builds in the tree), the install lands in
// DestDir+Prefix, and WorkDir holds out-of-tree build directories.
const (
	SrcDir  = "/build/src"
	WorkDir = "/build/work"
	OutDir  = "/build/out"
	DestDir = OutDir + "/root"
	HomeDir = "/build/home"
)

// JobsVar is the environment variable that carries the make/ninja job
// count into the build script. It is set when the action runs and is not
// part of the action key.
const JobsVar = "MONOGRES_JOBS"

// optionInfo maps an option of the vocabulary to its configure and meson
// flags, and says from which Postgres major on it exists.
type optionInfo struct {
	configure []string // autoconf flags (Postgres <= 15 recipes; also 16-17 would accept them)
	meson     []string // meson -D options (Postgres >= 16)
	min       int      // first major that has it (0: all supported majors)
	cross     bool     // can be cross-compiled to arm64
}

// options is the option vocabulary of DESIGN.md "Option sets".
// Configure defaults readline, zlib and (from 15) icu to on; barebones turns
// them off explicitly (see baseConfigure). Meson builds start from
// -Dauto_features=disabled, so only what is listed is on.
var options = map[string]optionInfo{
	"nls":              {configure: []string{"--enable-nls"}, meson: []string{"-Dnls=enabled"}, cross: true},
	"readline":         {configure: []string{"--with-readline"}, meson: []string{"-Dreadline=enabled"}, cross: true},
	"openssl":          {configure: []string{"--with-ssl=openssl"}, meson: []string{"-Dssl=openssl"}, cross: true},
	"uuid":             {configure: []string{"--with-uuid=e2fs"}, meson: []string{"-Duuid=e2fs"}, cross: true},
	"zlib":             {configure: []string{"--with-zlib"}, meson: []string{"-Dzlib=enabled"}, cross: true},
	"icu":              {configure: []string{"--with-icu"}, meson: []string{"-Dicu=enabled"}, cross: true},
	"llvm":             {configure: []string{"--with-llvm", "LLVM_CONFIG=/usr/bin/llvm-config-14", "CLANG=/usr/bin/clang-14"}, meson: []string{"-Dllvm=enabled"}},
	"lz4":              {configure: []string{"--with-lz4"}, meson: []string{"-Dlz4=enabled"}, cross: true},
	"plpython":         {configure: []string{"--with-python", "PYTHON=/usr/bin/python3"}, meson: []string{"-Dplpython=enabled"}},
	"systemd":          {configure: []string{"--with-systemd"}, meson: []string{"-Dsystemd=enabled"}, cross: true},
	"zstd":             {configure: []string{"--with-zstd"}, meson: []string{"-Dzstd=enabled"}, cross: true},
	"gssapi":           {configure: []string{"--with-gssapi"}, meson: []string{"-Dgssapi=enabled"}, cross: true},
	"ldap":             {configure: []string{"--with-ldap"}, meson: []string{"-Dldap=enabled"}, cross: true},
	"libxml":           {configure: []string{"--with-libxml"}, meson: []string{"-Dlibxml=enabled"}, cross: true},
	"libxslt":          {configure: []string{"--with-libxslt"}, meson: []string{"-Dlibxslt=enabled"}, cross: true},
	"pam":              {configure: []string{"--with-pam"}, meson: []string{"-Dpam=enabled"}, cross: true},
	"plperl":           {configure: []string{"--with-perl"}, meson: []string{"-Dplperl=enabled"}},
	"pltcl":            {configure: []string{"--with-tcl", "--with-tclconfig=/usr/lib/tcl8.6"}, meson: []string{"-Dpltcl=enabled"}},
	"selinux":          {configure: []string{"--with-selinux"}, meson: []string{"-Dselinux=enabled"}, cross: true},
	"liburing":         {configure: []string{"--with-liburing"}, meson: []string{"-Dliburing=enabled"}, min: 18, cross: true},
	"libnuma":          {configure: []string{"--with-libnuma"}, meson: []string{"-Dlibnuma=enabled"}, min: 18, cross: true},
	"libcurl":          {configure: []string{"--with-libcurl"}, meson: []string{"-Dlibcurl=enabled"}, min: 18, cross: true},
	"debug":            {configure: []string{"--enable-debug"}, meson: []string{"-Ddebug=true"}, cross: true},
	"cassert":          {configure: []string{"--enable-cassert"}, meson: []string{"-Dcassert=true"}, cross: true},
	"injection_points": {configure: []string{"--enable-injection-points"}, meson: []string{"-Dinjection_points=true"}, min: 17, cross: true},
}

// Options returns the option vocabulary, sorted.
func Options() []string {
	var out []string
	for k := range options {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// CrossUnsupported lists the options an arm64 cross build cannot take with
// the default toolchain roots: LLVM JIT (needs target clang/llvm-config to
// run on the build host) and the PL languages (configure runs the target's
// python3, perl and tclsh to read their build settings).
func CrossUnsupported() []string {
	var out []string
	for k, o := range options {
		if !o.cross {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// crossTriplet is the GNU triplet of each cross target.
var crossTriplet = map[string]string{"arm64": "aarch64-linux-gnu"}

// nativeArch is the build host's arch; every other target is cross-built.
const nativeArch = "amd64"

// cflags are the compiler flags of every configure build: -O2 (setting
// CFLAGS replaces configure's default) and compileFlags.
func cflags(c Cell) string { return "-O2 " + compileFlags(c) }

// compileFlags are the C and C++ flags of every build besides the
// optimization level: fixed paths are mapped so debug info and __FILE__ do
// not name the scratch dir.
func compileFlags(c Cell) string {
	f := "-ffile-prefix-map=" + SrcDir + "=. -ffile-prefix-map=" + WorkDir + "=."
	if slices.Contains(c.Options, "debug") {
		f += " -ggdb -fno-omit-frame-pointer"
	}
	return f
}

func checkCell(c Cell) error {
	if c.Name == "" {
		return fmt.Errorf("build: cell has no name")
	}
	if c.Major < 10 {
		return fmt.Errorf("build: cell %s: postgres major %d is not supported (need 10 or newer)", c.Name, c.Major)
	}
	if c.Arch != nativeArch && crossTriplet[c.Arch] == "" {
		return fmt.Errorf("build: cell %s: target arch %q is not supported (have amd64, arm64)", c.Name, c.Arch)
	}
	for _, o := range c.Options {
		info, ok := options[o]
		switch {
		case !ok:
			return fmt.Errorf("build: cell %s: unknown option %q (known: %s)", c.Name, o, strings.Join(Options(), ", "))
		case c.Major < info.min:
			return fmt.Errorf("build: cell %s: option %q needs postgres %d or newer", c.Name, o, info.min)
		case c.Arch != nativeArch && !info.cross:
			return fmt.Errorf("build: cell %s: option %q cannot be cross-compiled for %s (declare it in [target.%s] unsupported)", c.Name, o, c.Arch, c.Arch)
		}
	}
	return nil
}

// PostgresRecipe is the built-in recipe of Postgres cells, a
// plugins.Recipe like the extension recipes and wasm plugins (a plugin
// can replace it: [postgres] build = "plugin:NAME"): configure/make for
// Postgres 15 and older, meson/ninja for 16 and newer. Its plan comes from
// the request alone; it never reads the source tree.
type PostgresRecipe struct{}

// Plan returns the plan of the Postgres cell req describes.
func (PostgresRecipe) Plan(ctx context.Context, req sdk.Request, _ fs.FS) (sdk.Plan, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Plan{}, err
	}
	c := Cell{Name: "postgres~" + req.Postgres.Version + "~" + req.OptionSet + "~" + req.Arch,
		PostgresVersion: req.Postgres.Version, Major: req.Postgres.Major, OptionSet: req.OptionSet, Options: req.Options, Arch: req.Arch}
	if err := checkCell(c); err != nil {
		return sdk.Plan{}, err
	}
	if c.Major <= 15 {
		return configurePlan(c), nil
	}
	return mesonPlan(c), nil
}

// ConfigureArgs are the ./configure arguments of a cell (Postgres <= 15).
func ConfigureArgs(c Cell) []string {
	args := []string{"--prefix=" + Prefix}
	if tr := crossTriplet[c.Arch]; tr != "" {
		args = append(args, "--build=x86_64-linux-gnu", "--host="+tr)
	}
	// Configure turns these on by default; every option starts off.
	for _, o := range []string{"readline", "zlib", "icu"} {
		if !slices.Contains(c.Options, o) && (o != "icu" || c.Major >= 15) {
			args = append(args, "--without-"+o)
		}
	}
	for _, o := range c.Options {
		if o == "readline" || o == "zlib" || (o == "icu" && c.Major >= 15) {
			continue // default on
		}
		flags := options[o].configure
		if o == "pltcl" && c.Arch != nativeArch {
			flags = []string{"--with-tcl", "--with-tclconfig=/usr/lib/" + crossTriplet[c.Arch] + "/tcl8.6"}
		}
		args = append(args, flags...)
	}
	return append(args, "CFLAGS="+cflags(c))
}

// makeVars are the make variables of every configure/make step:
// deterministic static archives and a relative RUNPATH ($ORIGIN/../lib)
// instead of configure's absolute one, so the install is relocatable and
// libpq is found wherever the package is extracted.
func makeVars(c Cell) []string {
	v := []string{"AROPT=crsD", "rpathdir=$$ORIGIN/../lib"}
	if c.Arch != nativeArch {
		// zic is built for the target; the root's native zic writes the
		// same time zone files without an emulator.
		v = append(v, "ZIC=/usr/sbin/zic")
	}
	return v
}

// crossEnv is the environment of a cross build: pkg-config finds the
// target's libraries.
func crossEnv(c Cell) map[string]string {
	tr := crossTriplet[c.Arch]
	if tr == "" {
		return nil
	}
	return map[string]string{
		"PKG_CONFIG_LIBDIR": "/usr/lib/" + tr + "/pkgconfig:/usr/share/pkgconfig",
		"PKG_CONFIG_PATH":   "",
	}
}

// commands turns argv lists into plan commands run in the source tree.
func commands(argvs ...[]string) []sdk.Command {
	out := make([]sdk.Command, len(argvs))
	for i, a := range argvs {
		out[i] = sdk.Command{Argv: a}
	}
	return out
}

// configurePlan is ./configure, make world-bin and the (stripped, unless
// debug) install of Postgres and contrib into DestDir.
func configurePlan(c Cell) sdk.Plan {
	mv := makeVars(c)
	argvs := [][]string{
		slices.Concat([]string{"./configure"}, ConfigureArgs(c)),
		slices.Concat([]string{"make", "-j$" + JobsVar}, mv, []string{"world-bin"}),
	}
	if !slices.Contains(c.Options, "debug") {
		argvs = append(argvs,
			slices.Concat([]string{"make"}, mv, []string{"DESTDIR=" + DestDir, "install-strip"}),
			slices.Concat([]string{"make", "-C", "contrib"}, mv, []string{"DESTDIR=" + DestDir, "install-strip"}))
	} else {
		argvs = append(argvs, slices.Concat([]string{"make"}, mv, []string{"DESTDIR=" + DestDir, "install-world-bin"}))
	}
	return sdk.Plan{Protocol: sdk.ProtocolVersion, Commands: commands(argvs...), Env: crossEnv(c)}
}

// MesonArgs are the `meson setup` arguments of a cell (Postgres >= 16).
// The install directories are given explicitly: on a Debian root meson
// would default libdir to lib/<multiarch>, which breaks the $ORIGIN/../lib
// RUNPATH and the layout PGXS expects. The optimization level is meson's
// own option, not a flag in c_args, so the flags pg_config records
// (-O2, and -g for debug) are the ones the compiler got.
func MesonArgs(c Cell) []string {
	debug := "false"
	if slices.Contains(c.Options, "debug") {
		debug = "true"
	}
	args := []string{
		"--prefix=" + Prefix, "--bindir=bin", "--libdir=lib", "--includedir=include", "--datadir=share",
		"--sysconfdir=etc", "--localedir=share/locale", "--mandir=share/man",
		"-Doptimization=2", "-Ddebug=" + debug, "-Dauto_features=disabled", "-Drpath=false",
		"-Dc_args=" + compileFlags(c), "-Dcpp_args=" + compileFlags(c),
		"-Dc_link_args=" + mesonLinkArgs, "-Dcpp_link_args=" + mesonLinkArgs,
	}
	if crossTriplet[c.Arch] != "" {
		args = append(args, "--cross-file="+SrcDir+"/"+crossFileName(c.Arch))
	}
	for _, o := range c.Options {
		if o == "debug" {
			continue // -Ddebug above
		}
		args = append(args, options[o].meson...)
	}
	return args
}

// mesonLinkArgs give every binary and library (C or C++ linked) the
// relative RUNPATH.
const mesonLinkArgs = "-Wl,-rpath,$ORIGIN/../lib,--enable-new-dtags"

// crossFileName is the meson cross file of a target, which the plan
// writes into the source tree.
func crossFileName(arch string) string { return ".monogres-cross-" + arch + ".ini" }

// crossFile is the meson cross file of a target. Its pkg-config entry is
// spelled pkgconfig, the only key the root's meson (1.0) reads (pkg-config
// is meson 1.3's): without it meson finds no pkg-config for the target and
// every pkg-config dependency (ICU, ...) is missing.
func crossFile(arch string) sdk.File {
	tr := crossTriplet[arch]
	return sdk.File{Path: crossFileName(arch), Content: "[binaries]\n" +
		"c = '" + tr + "-gcc'\ncpp = '" + tr + "-g++'\nar = '" + tr + "-ar'\nstrip = '" + tr + "-strip'\n" +
		"pkgconfig = 'pkg-config'\n\n[host_machine]\nsystem = 'linux'\ncpu_family = 'aarch64'\ncpu = 'aarch64'\nendian = 'little'\n"}
}

// mesonPlan is meson setup (build directory below WorkDir), ninja and the
// (stripped, unless debug) meson install into DestDir.
func mesonPlan(c Cell) sdk.Plan {
	bdir := WorkDir + "/build"
	install := []string{"meson", "install", "-C", bdir, "--destdir", DestDir, "--no-rebuild", "--quiet"}
	if !slices.Contains(c.Options, "debug") {
		install = append(install, "--strip")
	}
	p := sdk.Plan{
		Protocol: sdk.ProtocolVersion,
		Commands: commands(
			slices.Concat([]string{"meson", "setup", bdir, SrcDir}, MesonArgs(c)),
			[]string{"ninja", "-C", bdir, "-j", "$" + JobsVar},
			install,
			// meson writes the link args into PGXS's Makefile.global as
			// they are, where make would expand $O of $ORIGIN and then the
			// shell running the link $ORIGIN: quote it for both, as
			// Postgres' own Makefile.global does ('$(rpathdir)'), so
			// extensions built with PGXS get the relative RUNPATH too.
			[]string{"sed", "-i", `s/\$ORIGIN/'$$ORIGIN'/g`, DestDir + Prefix + "/lib/pgxs/src/Makefile.global"},
		),
		Env: crossEnv(c), // meson's static archives are deterministic (ar csrD) by default
	}
	if crossTriplet[c.Arch] != "" {
		p.Files = []sdk.File{crossFile(c.Arch)}
	}
	return p
}

// Script renders a plan's commands as the POSIX shell script of its
// action, for every recipe (Postgres, extension kinds, plugins): from
// SrcDir, each command is echoed, then run (in its Dir below SrcDir, with
// its Env); the script stops at the first failure. Arguments are
// single-quoted except "$MONOGRES_JOBS", which the shell expands (the job
// count is not part of the action key). The plan's Files, Patches and Env
// are not in the script: the engine applies them.
func Script(p sdk.Plan) string {
	var b strings.Builder
	b.WriteString("set -eu\n")
	fmt.Fprintf(&b, "cd %s\n", shQuote(SrcDir))
	for _, c := range p.Commands {
		var words []string
		for _, a := range c.Argv {
			words = append(words, shArg(a))
		}
		line := strings.Join(words, " ")
		if len(c.Env) > 0 {
			var env []string
			for _, k := range slices.Sorted(maps.Keys(c.Env)) {
				env = append(env, shQuote(k+"="+c.Env[k]))
			}
			line = "env " + strings.Join(env, " ") + " " + line
		}
		if c.Dir != "" {
			line = "(cd " + shQuote(c.Dir) + " && " + line + ")"
		}
		fmt.Fprintf(&b, "echo %s\n%s\n", shQuote("+ "+strings.Join(c.Argv, " ")), line)
	}
	return b.String()
}

// shArg quotes a for the shell, leaving $MONOGRES_JOBS expandable.
func shArg(a string) string {
	const v = "$" + JobsVar
	if !strings.Contains(a, v) {
		return shQuote(a)
	}
	parts := strings.Split(a, v)
	for i, p := range parts {
		if p != "" {
			parts[i] = shQuote(p)
		}
	}
	return strings.Join(parts, `"$`+JobsVar+`"`)
}

func shQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
