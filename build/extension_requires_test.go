package build_test

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/buildtest"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/lock"
)

// Debian's pgq and pgq_node sources (trixie), plain Makefile projects:
// pgq_node's control file requires pgq.
var (
	pgq = lock.Input{
		Name: "extension/pgq/3.5.1", Kind: "extension", Version: "3.5.1",
		URLs:        []string{"https://deb.debian.org/debian/pool/main/p/pgq/pgq_3.5.1.orig.tar.gz"},
		SHA256:      "0022098a36a8944f4a495e1f070bd69eb769f7e8f44596893aac9a2ba765d041",
		StripPrefix: "pgq-3.5.1",
	}
	pgqNode = lock.Input{
		Name: "extension/pgq_node/3.5", Kind: "extension", Version: "3.5",
		URLs:        []string{"https://deb.debian.org/debian/pool/main/p/pgq-node/pgq-node_3.5.orig.tar.gz"},
		SHA256:      "d2e330f3aef74827e18fa93b141810b57d8e88e51198b8b5a79a20f527541dfa",
		StripPrefix: "pgq-node-3.5",
	}
)

// TestExtensionRequires builds pgq_node, whose CREATE EXTENSION needs
// pgq's package installed, against the barebones 15.18 amd64 package:
// without requires its smoke test fails ("extension pgq is not
// available"); with requires = pgq, pgq's cell is built first, its package
// is installed beside the parent for the build and the smoke test, and
// pgq_node's package and manifest record it without containing its files.
func TestExtensionRequires(t *testing.T) {
	testenv.RequireRoot(t, "namespaces, real toolchain roots")
	if testing.Short() {
		t.Skip("builds extensions against a real Postgres package; not in -short")
	}
	ctx := context.Background()
	tc := buildtest.RealToolchainFor(t, testenv.CacheDir(t)+"/store", extensionSpec(nil))
	p := buildtest.Postgres1518("barebones", "amd64")
	st := postgresPackages(t, tc, []build.Cell{p})
	addInput(t, st, pgq)
	addInput(t, st, pgqNode)
	q := build.ExtensionCell("pgq~3.5.1~"+p.Name, p, pgq, build.Extension{Name: "pgq", Version: "3.5.1"}).WithRecipe("make", lock.Input{})
	alone := build.ExtensionCell("pgq_node~3.5~"+p.Name, p, pgqNode, build.Extension{Name: "pgq_node", Version: "3.5"}).WithRecipe("make", lock.Input{})
	node := alone
	node.Extension = &build.Extension{Name: "pgq_node", Version: "3.5", Parent: p.Name, Requires: []string{q.Name}}
	cfg := build.Config{Store: st, Toolchain: tc, OutDir: t.TempDir(), Jobs: 1, MakeJobs: 2, KeepGoing: true}

	// Without requires: the smoke test cannot CREATE EXTENSION pgq_node.
	res, _ := build.Build(ctx, cfg, []build.Cell{p, alone})
	if r := res[1]; r.State != event.StateFailed || r.Err == nil || !strings.Contains(r.Err.Error(), `extension "pgq" is not available`) {
		t.Fatalf("pgq_node without requires: %s %v, want a smoke test failing on the missing pgq", r.State, r.Err)
	}

	start := time.Now()
	res, err := build.Build(ctx, cfg, []build.Cell{p, node, q}) // q after node: the graph orders them
	t.Logf("pgq and pgq_node: %v", time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	qr, nr := res[2], res[1]
	log, err := os.ReadFile(nr.Log)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"required extension cell " + q.Name + " package " + qr.Package, "CREATE EXTENSION pgq_node CASCADE", "smoke test passed"} {
		if !strings.Contains(string(log), want) {
			t.Errorf("pgq_node log lacks %q", want)
		}
	}
	m := readManifest(t, nr.ManifestPath)
	if len(m.Requires) != 1 || m.Requires[0].Cell != q.Name || m.Requires[0].Package != qr.Package {
		t.Errorf("pgq_node manifest requires %+v, want %s %s", m.Requires, q.Name, qr.Package)
	}
	for _, f := range packageFiles(t, nr.PackagePath) {
		if strings.Contains(f, "pgq.control") || strings.HasPrefix(f, "share/extension/pgq--") {
			t.Errorf("pgq_node's package holds pgq's %s", f)
		}
	}
	// pgq's package is an input of pgq_node's action, and a dry run finds
	// the key cached.
	prep, err := build.Prepare(ctx, cfg, []build.Cell{p, q}, node)
	if prep.Dir != "" {
		defer os.RemoveAll(prep.Dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(prep.Action.Inputs, build.ActionInput{Path: build.PGDir, SHA256: qr.Package}) || prep.ActionKey != nr.ActionKey || !prep.Cached {
		t.Errorf("pgq_node action inputs %+v key %s cached %v, want pgq's package %s and key %s", prep.Action.Inputs, prep.ActionKey, prep.Cached, qr.Package, nr.ActionKey)
	}
	keys, err := build.DryRun(ctx, cfg, []build.Node{{Cell: p}, {Cell: q}, {Cell: node}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if keys[2].ActionKey != nr.ActionKey || !keys[2].Cached {
		t.Errorf("dry run: pgq_node %+v, built %s", keys[2], nr.ActionKey)
	}
}
