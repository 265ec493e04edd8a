package plan

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/monogres/monogres/internal/manifest"
)

// benchManifest is 1,000 extensions × 10 versions against every indexed
// Postgres release, in all 5 option sets for both arches.
func benchManifest(b *testing.B) (*manifest.Manifest, []Postgres) {
	var s strings.Builder
	s.WriteString("[postgres]\nversions_all = [\"*\"]\ntargets = [\"amd64\", \"arm64\"]\n[target.arm64]\nunsupported = [\"llvm\"]\n")
	for i := range 1000 {
		fmt.Fprintf(&s, "\n[[extension]]\nname = \"ext%04d\"\nversions = [", i)
		for v := range 10 {
			fmt.Fprintf(&s, "\"1.%d\", ", v)
		}
		fmt.Fprintf(&s, "]\nbuild = \"pgxs\"\npostgres = \">=12\"\n[[extension.source]]\nurls = [\"https://example.com/{name}-{version}.tar.gz\"]\nstrip_prefix = \"{name}-{version}\"\n")
	}
	m := parse(b, s.String())
	var pgs []Postgres
	for _, v := range m.Index.Versions() {
		pgs = append(pgs, Postgres{Version: v, Input: "postgres/" + v.String()})
	}
	return m, pgs
}

// BenchmarkEach expands the whole matrix: over 2 million cells. Target:
// under 5 s and 1 GiB per expansion.
func BenchmarkEach(b *testing.B) {
	m, pgs := benchManifest(b)
	want := len(pgs)*5*2 + 1000*10*len(pgs)*5*2
	if want < 1_000_000 {
		b.Fatalf("matrix has only %d cells", want)
	}
	b.ReportAllocs()
	b.ResetTimer()
	var peak uint64
	for b.Loop() {
		n := 0
		err := Each(m, pgs, func(c *Cell) error {
			n++
			return nil
		})
		if err != nil || n != want {
			b.Fatalf("Each: %d cells, %v; want %d", n, err, want)
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peak = max(peak, ms.HeapInuse)
	}
	b.ReportMetric(float64(want), "cells/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(want), "ns/cell")
	b.ReportMetric(float64(peak)/(1<<20), "heap-MiB")
}
