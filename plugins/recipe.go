package plugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"

	"github.com/monogres/monogres/plugins/sdk"
)

// Recipe turns a build request and its source tree into a plan. The built-in
// recipes and wasm plugins (Wasm) implement it, so a plugin can replace any
// built-in.
type Recipe interface {
	Plan(ctx context.Context, req sdk.Request, src fs.FS) (sdk.Plan, error)
}

// Wasm is a Recipe backed by a compiled plugin.
type Wasm struct {
	Host   *Host
	Module *Module
	// Stderr receives the plugin's diagnostics (bounded); nil discards them.
	Stderr io.Writer
}

// Plan runs the plugin once; see Host.Call.
func (w Wasm) Plan(ctx context.Context, req sdk.Request, src fs.FS) (sdk.Plan, error) {
	return w.Host.Call(ctx, w.Module, req, src, w.Stderr)
}

// PGXS is the built-in recipe for extensions built with Postgres' PGXS: the
// commands of sdk.PGXS (which names the cross compiler on arm64), with
// MakeArgs appended to both make command lines. The package is everything
// installed under $out.
type PGXS struct {
	MakeArgs []string
}

// Plan returns the PGXS plan; src must have a Makefile at its root.
func (r PGXS) Plan(ctx context.Context, req sdk.Request, src fs.FS) (sdk.Plan, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Plan{}, err
	}
	name := req.Extension.Name + " " + req.Extension.Version
	if req.Paths.PGConfig == "" || req.Paths.Out == "" {
		return sdk.Plan{}, fmt.Errorf("pgxs recipe for %s: request has no paths.pg_config or paths.out", name)
	}
	if _, err := fs.Stat(src, "Makefile"); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return sdk.Plan{}, fmt.Errorf("pgxs recipe for %s: no Makefile at the root of the source tree; not a PGXS extension (use a plugin)", name)
		}
		return sdk.Plan{}, fmt.Errorf("pgxs recipe for %s: %w", name, err)
	}
	p := sdk.Plan{Protocol: sdk.ProtocolVersion, Commands: sdk.PGXS(req, r.MakeArgs...)}
	if err := p.Validate(); err != nil {
		return sdk.Plan{}, fmt.Errorf("pgxs recipe for %s: %w", name, err)
	}
	return p, nil
}

// Configure is the built-in recipe for an extension with a ./configure in
// front of its PGXS makefiles (PostGIS style): ./configure with the
// parent's pg_config (as --with-pgconfig and PG_CONFIG), the cross host on
// arm64 and Args, then the commands of sdk.PGXS.
type Configure struct {
	Args []string
}

// Plan returns the configure plan; src must have an executable configure.
func (r Configure) Plan(ctx context.Context, req sdk.Request, src fs.FS) (sdk.Plan, error) {
	if err := needFile(ctx, req, src, "configure", "configure"); err != nil {
		return sdk.Plan{}, err
	}
	argv := []string{"./configure", "--with-pgconfig=" + req.Paths.PGConfig}
	if tr := crossTriplet[req.Arch]; tr != "" {
		argv = append(argv, "--build=x86_64-linux-gnu", "--host="+tr)
	}
	argv = append(argv, r.Args...)
	cmds := append([]sdk.Command{{Argv: argv, Env: map[string]string{"PG_CONFIG": req.Paths.PGConfig}}}, sdk.PGXS(req)...)
	return checked(req, "configure", sdk.Plan{Protocol: sdk.ProtocolVersion, Commands: cmds})
}

// CMake is the built-in recipe for extensions built with CMake (pgRouting,
// h3-pg, TimescaleDB style): configure a build directory below the work
// dir with the parent's pg_config (POSTGRESQL_PG_CONFIG and PG_CONFIG), a
// Release build whose installed files get RUNPATH $ORIGIN/../lib, the
// cross compilers on arm64 and Args; build; install into the output dir.
type CMake struct {
	Args []string
}

// cmakeBuildDir is the CMake build directory (the sandbox's work dir).
const cmakeBuildDir = "/build/work/cmake"

// Plan returns the CMake plan; src must have a CMakeLists.txt.
func (r CMake) Plan(ctx context.Context, req sdk.Request, src fs.FS) (sdk.Plan, error) {
	if err := needFile(ctx, req, src, "CMakeLists.txt", "cmake"); err != nil {
		return sdk.Plan{}, err
	}
	setup := []string{"cmake", "-S", req.Paths.Source, "-B", cmakeBuildDir,
		"-DCMAKE_BUILD_TYPE=Release", "-DPOSTGRESQL_PG_CONFIG=" + req.Paths.PGConfig, "-DPG_CONFIG=" + req.Paths.PGConfig,
		"-DCMAKE_INSTALL_RPATH=$ORIGIN/../lib", "-DCMAKE_SKIP_BUILD_RPATH=ON", "-DCMAKE_INSTALL_RPATH_USE_LINK_PATH=OFF"}
	if tr := crossTriplet[req.Arch]; tr != "" {
		setup = append(setup, "-DCMAKE_SYSTEM_NAME=Linux", "-DCMAKE_SYSTEM_PROCESSOR=aarch64",
			"-DCMAKE_C_COMPILER="+tr+"-gcc", "-DCMAKE_CXX_COMPILER="+tr+"-g++")
	}
	setup = append(setup, r.Args...)
	env := map[string]string{"PG_CONFIG": req.Paths.PGConfig}
	p := sdk.Plan{Protocol: sdk.ProtocolVersion, Commands: []sdk.Command{
		{Argv: setup, Env: env},
		{Argv: []string{"cmake", "--build", cmakeBuildDir}, Env: env},
		{Argv: []string{"cmake", "--install", cmakeBuildDir}, Env: map[string]string{"PG_CONFIG": req.Paths.PGConfig, "DESTDIR": req.Paths.Out}},
	}}
	return checked(req, "cmake", p)
}

// Make is the built-in recipe for a plain Makefile project that takes
// PG_CONFIG but not USE_PGXS: make, then make install DESTDIR=$out, both
// with PG_CONFIG, the relative rpathdir, the cross CC on arm64 and
// MakeArgs (as for PGXS).
type Make struct {
	MakeArgs []string
}

// Plan returns the make plan; src must have a Makefile.
func (r Make) Plan(ctx context.Context, req sdk.Request, src fs.FS) (sdk.Plan, error) {
	if err := needFile(ctx, req, src, "Makefile", "make"); err != nil {
		return sdk.Plan{}, err
	}
	cmds := sdk.PGXS(req, r.MakeArgs...)
	for i := range cmds {
		if j := slices.Index(cmds[i].Argv, "USE_PGXS=1"); j >= 0 { // sdk.PGXS's own (the first); a make_args one stays
			cmds[i].Argv = slices.Delete(cmds[i].Argv, j, j+1)
		}
	}
	return checked(req, "make", sdk.Plan{Protocol: sdk.ProtocolVersion, Commands: cmds})
}

// crossTriplet is the GNU triplet of each cross-compiled target.
var crossTriplet = map[string]string{"arm64": "aarch64-linux-gnu"}

// needFile checks the request's paths and that the source tree has file,
// which the recipe kind needs.
func needFile(ctx context.Context, req sdk.Request, src fs.FS, file, kind string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := req.Extension.Name + " " + req.Extension.Version
	if req.Paths.PGConfig == "" || req.Paths.Out == "" || req.Paths.Source == "" {
		return fmt.Errorf("%s recipe for %s: request has no paths.pg_config, paths.out or paths.source", kind, name)
	}
	if _, err := fs.Stat(src, file); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s recipe for %s: no %s at the root of the source tree (is strip_prefix right? otherwise use another build kind or a plugin)", kind, name, file)
		}
		return fmt.Errorf("%s recipe for %s: %w", kind, name, err)
	}
	return nil
}

func checked(req sdk.Request, kind string, p sdk.Plan) (sdk.Plan, error) {
	if err := p.Validate(); err != nil {
		return sdk.Plan{}, fmt.Errorf("%s recipe for %s %s: %w", kind, req.Extension.Name, req.Extension.Version, err)
	}
	return p, nil
}
