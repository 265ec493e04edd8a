// Package build owns the one build engine for Postgres and extension cells:
// the built-in Postgres recipe (configure/make for 15 and older, meson/ninja
// for 16 and newer), the action model and its cache, the graph scheduler,
// executors, deterministic packages, verify and the smoke test. It runs every command in build/sandbox inside a composed toolchain
// root.
//
// Invariants:
//   - Recipes and action keys are pure functions of a Cell, a toolchain root
//     digest and the recipe version: the same inputs give the same key on
//     every machine. The make/ninja job count is not part of the key (the
//     output must not depend on it; Verify checks that).
//   - A cell whose key is in the action cache (and whose package is in the
//     store) is not rebuilt: no sandbox is started.
//   - A package is written by this package, never by tar: sorted entries,
//     mtime = SOURCE_DATE_EPOCH, uid/gid 0 without names, modes 0755/0644,
//     symlinks kept, zstd at a fixed level and concurrency. The same install
//     tree gives the same bytes.
//   - Only a build that passed its smoke test enters the action cache.
//
// Reproducibility choices: fixed paths inside the sandbox (source at
// /build/src, install into /build/out/root), -ffile-prefix-map for both,
// SOURCE_DATE_EPOCH from the lock (or the archive's newest mtime),
// deterministic static archives (AROPT=crsD), TZ=UTC and LC_ALL=C. Binaries
// carry no RPATH, only RUNPATH $ORIGIN/../lib (make rpathdir=$$ORIGIN/../lib),
// so the package runs from any directory without LD_LIBRARY_PATH. Every set
// but debug installs with install-strip (no separate debug files); debug
// keeps full symbols (-ggdb) and enables cassert. arm64 is cross-compiled
// with aarch64-linux-gnu-gcc and the root's :arm64 libraries; its smoke test
// runs under qemu-user registered in the sandbox's own binfmt_misc (see
// Emulation), never the host's.
package build

import (
	"github.com/monogres/monogres/build/sandbox"

	"context"
	"time"

	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/plugins"
	"github.com/monogres/monogres/toolchains"
)

// RecipeVersion is part of every action key; bump it whenever a recipe,
// the packaging or the smoke test changes what a build produces.
const RecipeVersion = "monogres-postgres-recipe-1"

// Prefix is the install prefix compiled into every Postgres build. Its
// name contains "pgsql", so Postgres installs share/ and lib/ without a
// "/postgresql" suffix, and since bindir, libdir and sharedir share it,
// Postgres finds them relative to its binaries wherever the package is
// extracted. Packages hold the tree below Prefix (bin/, lib/, share/,
// include/).
const Prefix = "/usr/local/pgsql"

// Cell is one build target: a Postgres cell, or an extension cell
// (Extension set) built against the package of its parent Postgres cell.
// The plan package produces cells; the engine needs nothing else about the
// manifest.
type Cell struct {
	// Name is "postgres~15.18~barebones~amd64" or
	// "pg_similarity~1.0~postgres~15.18~barebones~amd64".
	Name string
	// PostgresVersion is "15.18"; Major is 15. An extension cell has the
	// fields of its parent (the target it is built for).
	PostgresVersion string
	Major           int
	// OptionSet is "barebones", "minimal", "regular", "full" or "debug".
	OptionSet string
	// Options are the options this cell gets, already filtered by version
	// constraints and target support (see OptionFlags for the vocabulary).
	Options []string
	// Arch is the target: "amd64" (native) or "arm64" (cross-compiled on amd64).
	Arch string
	// Source is the lock input of the cell's source archive (Postgres, or
	// the extension's "extension/NAME/VERSION"); its bytes must be in the
	// store (monogres fetch).
	Source lock.Input
	// Recipe names the cell's recipe: for a Postgres cell empty (the
	// built-in PostgresRecipe) or "plugin:NAME"; for an extension cell
	// "pgxs" (also when empty), "configure", "cmake", "make" or
	// "plugin:NAME".
	Recipe string
	// Plugin is the lock input of the plugin's wasm ("plugin/NAME") when
	// Recipe is "plugin:NAME".
	Plugin lock.Input
	// Extension is set for extension cells.
	Extension *Extension
}

// Extension is what an extension cell adds to its target.
type Extension struct {
	// Name and Version name what is built; Name is also the name given to
	// CREATE EXTENSION in the smoke test.
	Name    string
	Version string
	// Params are passed to a plugin in its request.
	Params map[string]string
	// Settings are the manifest's (shared_preload_libraries, conf,
	// smoke_sql, bundle, regress); a plugin's plan adds to them.
	Settings
	// Parent names the Postgres cell the extension is built against; it
	// must be in the same graph (see Run).
	Parent string
	// Requires names the extension cells (built against the same parent)
	// whose packages are installed beside the parent for the build and the
	// smoke test, in install order and including their own requirements:
	// what CREATE EXTENSION ... CASCADE of this one needs (pgq_node needs
	// pgq). Their packages are inputs of the action; they are not copied
	// into this cell's package.
	Requires []string
	// RequiredExtensions are the extension names of Requires' cells, in the
	// same order: their packages are in this cell's root.
	RequiredExtensions []string
}

// RootCell is what the toolchain root of c serves: its target, options,
// extension and the extensions it requires.
func RootCell(c Cell) toolchains.Cell {
	rc := toolchains.Cell{Target: c.Arch, Options: c.Options}
	if c.Extension != nil {
		rc.Extension, rc.Requires = c.Extension.Name, c.Extension.RequiredExtensions
	}
	return rc
}

// Deps are the cells c needs built first: an extension cell's parent, then
// the extension cells it requires.
func (c Cell) Deps() []string {
	if c.Extension != nil {
		return append([]string{c.Extension.Parent}, c.Extension.Requires...)
	}
	return nil
}

// Toolchain is a composed root file system for one cell.
type Toolchain struct {
	Dir    string // host directory of the root
	Digest string // hex sha256 of the tree (toolchains.DigestTree)
	// Packages names the Debian packages in the root ("gcc-12",
	// "libssl-dev:arm64" for a foreign arch); nil means unknown.
	Packages []string
}

// ToolchainFunc returns the toolchain root of one cell: its target's base,
// its options' -dev packages and, for an extension cell, the extension's
// packages (toolchains.Cell). Callers wire it to toolchains.ComposeCached
// over the locked layers.
type ToolchainFunc func(ctx context.Context, c toolchains.Cell) (Toolchain, error)

// Config is what Run needs besides the cells.
type Config struct {
	Store     *store.Store
	Toolchain ToolchainFunc
	// Executor runs the commands of actions; nil means Local (build/sandbox).
	Executor Executor
	// OutDir, if set, receives <cell>.tar.zst and <cell>.json for every
	// built or cached cell (hard links into the store, copies across devices).
	OutDir string
	// ScratchDir holds the per-build source, work and install dirs; empty
	// means <store>/tmp. Each build uses a fresh directory below it that is
	// removed afterwards (kept on failure only if KeepScratch).
	ScratchDir  string
	KeepScratch bool
	// Jobs is the number of actions run at once (default 1); MakeJobs the
	// make/ninja -j of each (default 2).
	Jobs     int
	MakeJobs int
	// KeepGoing builds the other cells after one fails.
	KeepGoing bool
	// LockDigest ("sha256:<hex>" of monogres.lock) is recorded in the
	// manifests of the cells this run builds (not of cache hits).
	LockDigest string
	// Sink receives events (phase build or verify); nil discards them.
	Sink event.Sink
	// SkipSmoke skips the smoke test (tests of the engine only).
	SkipSmoke bool
	// Limits bound the sandbox of every build and smoke test (zero
	// fields: sandbox.DefaultLimits).
	Limits sandbox.Limits
	// Now is the clock for events; nil means time.Now.
	Now func() time.Time
	// Plugin bounds wasm plugin calls (memory, time, output); CacheDir,
	// SourceDateEpoch and TempDir are set by the engine.
	Plugin plugins.Options
	// LockedPackage reports whether a Debian package name is in the lock's
	// toolchain for arch; a plan naming another extra package fails its
	// cell. Nil means the lock holds none.
	LockedPackage func(arch, name string) bool
	// Evidence, if set, is called once for every package published into
	// OutDir (built or cached; not verify rebuilds) and writes its SBOM
	// and signed provenance beside it (internal/evidence); an error fails
	// the cell.
	Evidence func(cell string, r *Result) error
	// Remote, if set, is asked for an action's result after a local miss,
	// before anything is built, and given every result built (see
	// RemoteCache). RemoteOnly fails a cell found in neither cache instead
	// of building it (`monogres pull`).
	Remote     RemoteCache
	RemoteOnly bool
}

// Result is the outcome of one cell.
type Result struct {
	Cell string `json:"cell"`
	// State is built, cached, verified or failed.
	State event.State `json:"state"`
	// ActionKey is the hex sha256 of the action (see Action.Key).
	ActionKey string `json:"action_key,omitempty"`
	// Package and Manifest are the hex sha256 of the .tar.zst and the JSON
	// manifest in the store's CAS.
	Package  string `json:"package,omitempty"`
	Manifest string `json:"manifest,omitempty"`
	// PackagePath and ManifestPath are the files in OutDir (or the CAS).
	PackagePath  string `json:"package_path,omitempty"`
	ManifestPath string `json:"manifest_path,omitempty"`
	// Log is the build log in the store.
	Log      string        `json:"log,omitempty"`
	Duration time.Duration `json:"duration"`
	// Verify only: the digest the rebuild produced and the differing files.
	Rebuilt string     `json:"rebuilt,omitempty"`
	Diff    []FileDiff `json:"diff,omitempty"`
	Err     error      `json:"-"`
}
