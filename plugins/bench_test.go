package plugins

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"
)

// BenchmarkCallWarm measures one plugin call (fresh instance, staging copy,
// request, plan decoding and validation) with the module already compiled.
// Target: under 20 ms per call.
func BenchmarkCallWarm(b *testing.B) {
	h := newHost(b, Options{})
	m := compile(b, h, "./examples/genfile")
	src := os.DirFS(writeTree(b, map[string]string{"Makefile": demoMakefile, "demo.control.in": "default_version = '@EXTVERSION@'\n"}))
	ctx := context.Background()
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for b.Loop() {
		if _, err := h.Call(ctx, m, testRequest(), src, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/call")
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/1000/float64(b.N), "cpu-ms/call")
}

// BenchmarkCallNewProcess measures what a fresh monogres process pays per
// plugin: a new Host, loading the compiled module from a warm on-disk cache
// (wazero still decodes and validates the whole module), one call, and
// closing. In a test binary NewHost also hashes the executable to name the
// cache (see cacheNamespace); a release binary does not.
func BenchmarkCallNewProcess(b *testing.B) {
	wasm := buildPlugin(b, "./examples/genfile")
	sum := sha256Hex(wasm)
	cache := b.TempDir()
	ctx := context.Background()
	warm := newHost(b, Options{CacheDir: cache})
	if _, err := warm.Compile(ctx, "genfile", wasm, sum); err != nil {
		b.Fatal(err)
	}
	src := os.DirFS(writeTree(b, map[string]string{"Makefile": demoMakefile, "demo.control.in": "default_version = '@EXTVERSION@'\n"}))
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		h, err := NewHost(ctx, Options{CacheDir: cache})
		if err != nil {
			b.Fatal(err)
		}
		m, err := h.Compile(ctx, "genfile", wasm, sum)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := h.Call(ctx, m, testRequest(), src, nil); err != nil {
			b.Fatal(err)
		}
		h.Close(ctx)
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/call")
}

// BenchmarkCompileCold measures compiling the example plugin with an empty
// compile cache.
func BenchmarkCompileCold(b *testing.B) {
	wasm := buildPlugin(b, "./examples/genfile")
	sum := sha256Hex(wasm)
	ctx := context.Background()
	b.ReportMetric(float64(len(wasm))/(1<<20), "wasm-MiB")
	var total time.Duration
	for b.Loop() {
		h, err := NewHost(ctx, Options{CacheDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		if _, err := h.Compile(ctx, "genfile", wasm, sum); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		h.Close(ctx)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/compile")
}

// cpuTime is the user+system CPU time of this process so far: on a shared
// machine it is steadier than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
