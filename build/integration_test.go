package build_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/buildtest"
	"github.com/monogres/monogres/build/sandbox"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/internal/testenv"
)

func TestMain(m *testing.M) {
	sandbox.Init()
	os.Exit(m.Run())
}

// optionSets are the option sets of DESIGN.md for 15.18 on amd64 (liburing,
// libnuma, libcurl and injection_points do not exist in 15).
var optionSets = map[string][]string{
	"barebones": nil,
	"minimal":   {"nls", "openssl", "readline", "uuid", "zlib"},
	"regular":   {"icu", "llvm", "lz4", "nls", "openssl", "plpython", "readline", "systemd", "uuid", "zlib", "zstd"},
	"full": {"gssapi", "icu", "ldap", "libxml", "libxslt", "llvm", "lz4", "nls", "openssl", "pam", "plperl",
		"plpython", "pltcl", "readline", "selinux", "systemd", "uuid", "zlib", "zstd"},
	"debug": {"cassert", "debug", "icu", "llvm", "lz4", "nls", "openssl", "plpython", "readline", "systemd", "uuid", "zlib", "zstd"},
}

// cell15 is a 15.18 cell; on arm64 the cross-unsupported options are
// dropped, as the manifest's [target.arm64] unsupported list does.
func cell15(set, arch string) build.Cell {
	var opts []string
	for _, o := range optionSets[set] {
		if arch == "arm64" && contains(build.CrossUnsupported(), o) {
			continue
		}
		opts = append(opts, o)
	}
	return build.Cell{
		Name: "postgres~15.18~" + set + "~" + arch, PostgresVersion: "15.18", Major: 15,
		OptionSet: set, Options: opts, Arch: arch, Source: testenv.PG1518,
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// recorder keeps the events of a run.
type recorder struct {
	mu     sync.Mutex
	events []event.Event
}

func (r *recorder) Emit(e event.Event) {
	if e.Kind == event.Log {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// started reports whether a Started event (a build began) was seen for cell.
func (r *recorder) started(cell string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Item == cell && e.Kind == event.Started {
			return true
		}
	}
	return false
}

// steps are the names of the build steps reported for cell, each checked
// to count up to its total.
func (r *recorder) steps(t *testing.T, cell string) []string {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.Item == cell && e.Kind == event.Progress && e.Unit == "steps" {
			out = append(out, e.Line)
			if e.Done != int64(len(out)) {
				t.Errorf("%s: step %q is %d of %d, want %d", cell, e.Line, e.Done, e.Total, len(out))
			}
		}
	}
	return out
}

// newConfig is a Config on a fresh store holding the 15.18 source; the
// toolchain roots come from the shared test cache (warm after the first run).
func newConfig(t *testing.T) (build.Config, *recorder) {
	t.Helper()
	shared := testStore(t)
	var st *store.Store
	if dir := os.Getenv("MONOGRES_TEST_KEEP_STORE"); dir != "" {
		// A store kept between runs (warm action cache), for slow manual runs.
		var err error
		if st, err = store.Open(dir); err != nil {
			t.Fatal(err)
		}
		if !st.Has(testenv.PG1518.SHA256) {
			if _, _, err := st.AddFile(context.Background(), shared.Path(testenv.PG1518.SHA256)); err != nil {
				t.Fatal(err)
			}
		}
	} else {
		st = freshStore(t, shared.Path(testenv.PG1518.SHA256))
	}
	rec := &recorder{}
	return build.Config{
		Store:      st,
		Toolchain:  buildtest.RealToolchain(t, shared.Dir()),
		OutDir:     t.TempDir(),
		Jobs:       1,
		MakeJobs:   2,
		LockDigest: "sha256:" + testenv.PG1518.SHA256,
		Sink:       rec,
	}, rec
}

func requireBuilds(t *testing.T) {
	t.Helper()
	testenv.RequireRoot(t, "namespaces, real toolchain roots")
	if testing.Short() {
		t.Skip("builds real Postgres (minutes); not in -short")
	}
}

// TestBarebones is the CI set: barebones amd64 and arm64 build, package and
// pass the smoke test; the amd64 package runs from an arbitrary host dir; a
// second build is a cache hit without a sandbox; verify (which always
// rebuilds) finds amd64 reproducible, and arm64 too when asked. It builds
// in the shared test store, where TestExtensions (earlier in the run)
// builds the same parents: CI builds each barebones cell once.
func TestBarebones(t *testing.T) {
	requireBuilds(t)
	ctx := context.Background()
	shared := testStore(t)
	rec := &recorder{}
	cfg := build.Config{Store: shared, Toolchain: buildtest.RealToolchain(t, shared.Dir()), OutDir: t.TempDir(), Jobs: 1, MakeJobs: 2, Sink: rec}
	cells := []build.Cell{cell15("barebones", "amd64"), cell15("barebones", "arm64")}
	res, err := build.Build(ctx, cfg, cells)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.State != event.StateBuilt && r.State != event.StateCached {
			t.Fatalf("%s: state %s, want built or cached", cells[i].Name, r.State)
		}
		if r.State == event.StateBuilt && !rec.started(r.Cell) {
			t.Errorf("%s: built without a Started event", r.Cell)
		}
		t.Logf("%s: %s in %v, package %s", r.Cell, r.State, r.Duration.Round(time.Second), r.Package)
		checkPackage(t, cfg, cells[i], r)
	}
	runExtracted(t, res[0].PackagePath, cells[0].PostgresVersion)

	// A second build is a cache hit: no sandbox (no "building" state).
	rec2 := &recorder{}
	cfg.Sink = rec2
	start := time.Now()
	again, err := build.Build(ctx, cfg, cells)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second build of %d cells: %v", len(cells), time.Since(start))
	for i, r := range again {
		if r.State != event.StateCached || r.Package != res[i].Package {
			t.Errorf("%s: second build state %s package %s, want cached %s", r.Cell, r.State, r.Package, res[i].Package)
		}
		if rec2.started(r.Cell) {
			t.Errorf("%s: second build started a build", r.Cell)
		}
	}
	// verify rebuilds: amd64 always, arm64 (a 10-minute cross build and
	// qemu smoke test here) with MONOGRES_TEST_VERIFY_ARM64=1, to keep CI
	// under its time budget.
	verify := cells[:1]
	if os.Getenv("MONOGRES_TEST_VERIFY_ARM64") == "1" {
		verify = cells
	}
	vres, err := build.Verify(ctx, cfg, verify)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range vres {
		if r.State != event.StateVerified || r.Rebuilt != r.Package {
			t.Errorf("%s: verify state %s, package %s rebuilt %s", r.Cell, r.State, r.Package, r.Rebuilt)
		}
		// The rebuild reports its steps (no smoke test, nothing recorded).
		if got := strings.Join(rec2.steps(t, r.Cell), ", "); got != "staging inputs, building, packaging" {
			t.Errorf("%s: verify rebuild steps %q", r.Cell, got)
		}
	}
}

// freshStore is an empty store (cold action cache) holding the source.
func freshStore(t testing.TB, source string) *store.Store {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AddFile(context.Background(), source); err != nil {
		t.Fatal(err)
	}
	return st
}
