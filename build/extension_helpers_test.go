package build_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/lock"
)

// Real extension sources, as Debian ships them.
var (
	pgSimilarity = lock.Input{
		Name: "extension/pg_similarity/1.0", Kind: "extension", Version: "1.0",
		URLs:        []string{"https://deb.debian.org/debian/pool/main/p/pg-similarity/pg-similarity_1.0.orig.tar.gz"},
		SHA256:      "0d74e5c6ba3dd753da8bb55293ebb0f05484eab342af5c2ee1fd03a1cd876276",
		StripPrefix: "pg_similarity-pg_similarity_1_0",
	}
	numeral = lock.Input{
		Name: "extension/numeral/1.3", Kind: "extension", Version: "1.3",
		URLs:        []string{"https://deb.debian.org/debian/pool/main/p/postgresql-numeral/postgresql-numeral_1.3.orig.tar.gz"},
		SHA256:      "feb5e8f7cdc12f056f9251e72a5d000bb3052115f565828efb704a8f61f27ce1",
		StripPrefix: "postgresql-numeral-1.3",
	}
	pgRational = lock.Input{
		Name: "extension/pg_rational/0.0.2", Kind: "extension", Version: "0.0.2",
		URLs:        []string{"https://deb.debian.org/debian/pool/main/p/pg-rational/pg-rational_0.0.2.orig.tar.gz"},
		SHA256:      "49f123c05d6ee04ce66474e2656ffc21ae1642e317dcd7e4e357d41903c497eb",
		StripPrefix: "pg_rational-0.0.2",
	}
	// pgvector: a PGXS extension whose compile, not the fixed cost of a
	// cell (sandbox, initdb, server), takes most of its build.
	pgvector = lock.Input{
		Name: "extension/pgvector/0.8.0", Kind: "extension", Version: "0.8.0",
		URLs:        []string{"https://deb.debian.org/debian/pool/main/p/pgvector/pgvector_0.8.0.orig.tar.gz"},
		SHA256:      "867a2c328d4928a5a9d6f052cd3bc78c7d60228a9b914ad32aa3db88e9de27b0",
		StripPrefix: "pgvector-0.8.0",
	}
)

// postgresCell is the 15.18 cell of an option set with no options
// (barebones).
func barebones1518(arch string) build.Cell {
	return build.Cell{
		Name: "postgres~15.18~barebones~" + arch, PostgresVersion: "15.18", Major: 15,
		OptionSet: "barebones", Arch: arch, Source: testenv.PG1518,
	}
}

// addInput puts a real input into st, downloading it into the test cache
// first if needed.
func addInput(t testing.TB, st *store.Store, in lock.Input) {
	t.Helper()
	if st.Has(in.SHA256) {
		return
	}
	ctx := context.Background()
	local := filepath.Join(testenv.CacheDir(t), "src", filepath.Base(in.URLs[0]))
	if err := os.MkdirAll(filepath.Dir(local), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := testenv.Download(ctx, in.URLs[0], in.SHA256, local); err != nil {
		t.Fatal(err)
	}
	if sha, _, err := st.AddFile(ctx, local); err != nil || sha != in.SHA256 {
		t.Fatalf("adding %s: sha256 %s, err %v", local, sha, err)
	}
}

// buildPlugin compiles the Go package pkg with GOOS=wasip1 GOARCH=wasm,
// adds the wasm to st and returns its lock input.
func buildPlugin(t testing.TB, st *store.Store, pkg string) lock.Input {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(t.TempDir(), filepath.Base(pkg)+".wasm")
	cmd := exec.Command(goBin, "build", "-trimpath", "-buildvcs=false", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building plugin %s: %v\n%s", pkg, err, msg)
	}
	sha, size, err := st.AddFile(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	return lock.Input{Name: "plugin/" + filepath.Base(pkg), Kind: "plugin", SHA256: sha, Size: size}
}

// postgresPackages builds (or finds in the shared test store's action
// cache) the parent Postgres cells, then seeds a fresh store with their
// sources, packages and action-cache entries: extension builds in the
// fresh store find their parents cached but build the extensions cold.
func postgresPackages(t testing.TB, tc build.ToolchainFunc, parents []build.Cell) *store.Store {
	t.Helper()
	ctx := context.Background()
	shared, err := store.Open(filepath.Join(testenv.CacheDir(t), "store"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parents {
		addInput(t, shared, p.Source)
	}
	start := time.Now()
	res, err := build.Build(ctx, build.Config{Store: shared, Toolchain: tc, Jobs: 1, MakeJobs: 2, KeepGoing: true}, parents)
	if err != nil {
		t.Fatalf("building the Postgres cells: %v", err)
	}
	for _, r := range res {
		t.Logf("%s: %s in %v", r.Cell, r.State, r.Duration.Round(time.Millisecond))
	}
	t.Logf("Postgres cells ready in %v", time.Since(start).Round(time.Millisecond))
	fresh, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range parents {
		if _, _, err := fresh.AddFile(ctx, shared.Path(p.Source.SHA256)); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range res {
		for _, sha := range []string{r.Package, r.Manifest} {
			if _, _, err := fresh.AddFile(ctx, shared.Path(sha)); err != nil {
				t.Fatal(err)
			}
		}
		if err := build.Record(fresh, build.ACEntry{Cell: r.Cell, ActionKey: r.ActionKey, Package: r.Package, Manifest: r.Manifest, Log: r.Log}); err != nil {
			t.Fatal(err)
		}
	}
	return fresh
}
