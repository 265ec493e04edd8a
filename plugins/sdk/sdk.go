// Package sdk is the monogres plugin protocol and the Go SDK for plugin authors.
//
// A plugin is a WASI preview 1 module: a reactor exporting monogres_main
// (what `monogres plugin build` makes of a plugin using this package; see
// reactor_wasip1.go) or a command. monogres writes one Request as JSON to
// the plugin's stdin; the plugin writes one Plan as JSON to stdout and exits
// 0, or writes a diagnostic to stderr and exits non-zero. The plan is
// data: files to write and patches to apply in the source tree, commands the
// build runs later in its sandbox, which installed paths make up the package,
// and extra toolchain packages (which must already be in the lock).
//
// This package imports no wasm runtime so it compiles for GOOS=wasip1; the
// monogres host (package plugins) reuses these types.
package sdk

// ProtocolVersion is the version of the Request/Plan protocol defined here.
// A plan carrying another version is rejected by the host.
const ProtocolVersion = 1

// Request is what the host sends a plugin on stdin.
type Request struct {
	// Protocol is the protocol version the host speaks (ProtocolVersion).
	Protocol int `json:"protocol"`
	// Extension being built; empty when the request is for a Postgres cell
	// itself (a plugin replacing the built-in Postgres recipe).
	Extension Extension `json:"extension"`
	// Postgres the extension is built against.
	Postgres Postgres `json:"postgres"`
	// OptionSet of the Postgres cell: barebones, minimal, regular, full, debug.
	OptionSet string `json:"option_set"`
	// Arch is the target architecture: amd64 or arm64.
	Arch string `json:"arch"`
	// Options are the Postgres build options of the cell (the option set
	// after version and target filtering, e.g. "openssl", "llvm"): what a
	// recipe building Postgres itself turns on.
	Options []string `json:"options,omitempty"`
	// Paths are fixed locations inside the build sandbox and the plugin.
	Paths Paths `json:"paths"`
	// Files lists the regular files of the source tree, slash-separated,
	// relative to the tree root, sorted. The same tree is readable (read-only)
	// by the plugin under Paths.Mount.
	Files []string `json:"files"`
	// Params are the extension's plugin parameters: the params table of its
	// [[extension]] in monogres.toml.
	Params map[string]string `json:"params,omitempty"`
	// SourceDateEpoch is the build's fixed time (Unix seconds, from the
	// lock); the plugin's clock reads the same.
	SourceDateEpoch int64 `json:"source_date_epoch,omitempty"`
}

// Extension names the extension and version being built.
type Extension struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Postgres names the Postgres cell the extension is built against.
type Postgres struct {
	// Version is the full version, e.g. "15.18".
	Version string `json:"version"`
	// Major is the major version, e.g. 15.
	Major int `json:"major"`
}

// Paths are absolute paths. Source, Out and PGConfig are paths inside the build
// sandbox where Plan commands run; Mount is where the plugin itself sees the
// source tree (read-only) while it runs.
type Paths struct {
	// Source is the source tree in the build sandbox (e.g. /build/src);
	// Command.Dir and File.Path are relative to it.
	Source string `json:"source"`
	// Out is the install root (DESTDIR) in the build sandbox (e.g. /build/out);
	// Plan.Package patterns are relative to it.
	Out string `json:"out"`
	// PGConfig is the pg_config of the Postgres cell in the build sandbox.
	PGConfig string `json:"pg_config"`
	// Prefix is where the Postgres cell is installed in the build sandbox
	// (e.g. /build/pg; for a request to build a Postgres cell itself, the
	// prefix it is configured with, /usr/local/pgsql, installing below
	// Out+Prefix): the extension installs below Out+Prefix, so Package
	// patterns start with Prefix without its leading slash, as in
	// path.Join(strings.TrimPrefix(Prefix, "/"), "lib/foo.so").
	Prefix string `json:"prefix,omitempty"`
	// Mount is where the plugin sees the source tree, read-only (e.g. /src).
	Mount string `json:"mount"`
}

// Plan is what a plugin answers on stdout.
type Plan struct {
	// Protocol must be ProtocolVersion; Run fills it in when left zero.
	Protocol int `json:"protocol"`
	// Files are written into the source tree before any command runs,
	// replacing existing files.
	Files []File `json:"files,omitempty"`
	// Patches are applied to the source tree after Files are written.
	Patches []Patch `json:"patches,omitempty"`
	// Commands run in order in the build sandbox; the first failure fails
	// the build.
	Commands []Command `json:"commands"`
	// Env is added to the environment of every command (the action's
	// environment), overriding the sandbox's fixed one; a command's own
	// Env overrides it in turn.
	Env map[string]string `json:"env,omitempty"`
	// Package lists path.Match patterns, relative to Paths.Out, selecting
	// the installed files that make up the package. A pattern naming a
	// directory selects everything under it. Empty means every installed file.
	Package []string `json:"package,omitempty"`
	// ExtraPackages names toolchain packages (Debian package names) the
	// commands need beyond the default toolchain. Each must already be in
	// the lock: a plan never widens the inputs.
	ExtraPackages []string `json:"extra_packages,omitempty"`
	// SharedPreloadLibraries and Conf (postgresql.conf lines, "name =
	// value") are added to the server's configuration in the smoke test
	// and the regression suite; SmokeSQL replaces the smoke test's default
	// statements (CREATE EXTENSION of every installed control file). The
	// manifest's settings of the extension come first.
	SharedPreloadLibraries []string `json:"shared_preload_libraries,omitempty"`
	Conf                   []string `json:"conf,omitempty"`
	SmokeSQL               []string `json:"smoke_sql,omitempty"`
}

// File is a text file to write into the source tree.
type File struct {
	// Path is slash-separated, relative to the source tree, without "..".
	Path string `json:"path"`
	// Content is the file's text (valid UTF-8).
	Content string `json:"content"`
	// Mode holds permission bits only; zero means 0644.
	Mode uint32 `json:"mode,omitempty"`
}

// Patch is a unified diff applied to one existing file of the source tree.
// The ---/+++ header lines are optional and ignored: Path names the file.
type Patch struct {
	// Path is slash-separated, relative to the source tree, without "..".
	Path string `json:"path"`
	// Diff holds one or more unified-diff hunks ("@@ -l,s +l,s @@" ...).
	Diff string `json:"diff"`
}

// Command is one process the build runs in its sandbox.
type Command struct {
	// Argv is the program and its arguments; Argv[0] is looked up in the
	// sandbox PATH unless it is absolute.
	Argv []string `json:"argv"`
	// Env is added to the sandbox's fixed environment, overriding it.
	Env map[string]string `json:"env,omitempty"`
	// Dir is relative to the source tree; empty means its root.
	Dir string `json:"dir,omitempty"`
}
