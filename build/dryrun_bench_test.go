package build_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

// BenchmarkKeyExtensionCells plans and keys b.N extension cells (PGXS
// recipe on a staged source) against one cached parent through DryRun.
func BenchmarkKeyExtensionCells(b *testing.B) {
	ctx := context.Background()
	st, _ := store.Open(b.TempDir())
	put := func(path string) lock.Input {
		sha, size, err := st.AddFile(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		return lock.Input{SHA256: sha, Size: size, SourceDateEpoch: 1700000000}
	}
	pgSrc := put(writeTarGz(b, "postgresql-15.18", map[string]string{"README": "x"}))
	pgSrc.Name, pgSrc.StripPrefix = "postgres/15.18", "postgresql-15.18"
	extSrc := put(writeTarGz(b, "demo-1.0", map[string]string{"Makefile": "EXTENSION = demo\n", "demo.control": "default_version = '1.0'\n"}))
	extSrc.Name, extSrc.StripPrefix = "extension/demo/1.0", "demo-1.0"
	parent := build.Cell{Name: "postgres~15.18~barebones~amd64", PostgresVersion: "15.18", Major: 15, OptionSet: "barebones", Arch: "amd64", Source: pgSrc}
	cfg := build.Config{Store: st, Toolchain: func(context.Context, toolchains.Cell) (build.Toolchain, error) {
		return build.Toolchain{Dir: "/nonexistent", Digest: strings.Repeat("b", 64)}, nil
	}}
	a, _ := build.NewAction(parent, strings.Repeat("b", 64), 1700000000)
	pkg := put(writeTarGz(b, "pkg", map[string]string{"bin/postgres": "x"}))
	build.Record(st, build.ACEntry{Cell: parent.Name, ActionKey: a.Key(), Package: pkg.SHA256, Manifest: pkg.SHA256})
	nodes := []build.Node{{Cell: parent}}
	for i := range b.N {
		nodes = append(nodes, build.Node{Cell: build.ExtensionCell(fmt.Sprintf("demo%d~1.0~%s", i, parent.Name), parent, extSrc, build.Extension{Name: "demo", Version: "1.0"})})
	}
	b.ResetTimer()
	out, err := build.DryRun(ctx, cfg, nodes, nil)
	if err != nil || out[len(out)-1].ActionKey == "" {
		b.Fatalf("%v %+v", err, out[len(out)-1])
	}
}
