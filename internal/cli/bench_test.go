package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/testenv"
	"github.com/monogres/monogres/lock"
)

// writeBenchManifest writes the scale manifest of issue 2 to dir and locks
// it: every indexed Postgres release (versions_all = ["*"]), all 5 option
// sets, both arches, and 1,000 extensions × 10 versions, each version pinned
// by [[extension.release]] so locking needs no download. The lock holds
// 10,000 extension inputs plus the Postgres ones; the matrix has over 2M cells.
func writeBenchManifest(tb testing.TB, dir string) string {
	return writeScaleManifest(tb, dir, false)
}

// writeScaleManifest is writeBenchManifest, with the repository's toolchain
// (343 bookworm packages pinned against the signed index) when toolchain is
// set. The toolchain pins are taken from the repository's lock, so locking
// needs no network; its index files are fetched into the store.
func writeScaleManifest(tb testing.TB, dir string, toolchain bool) string {
	tb.Helper()
	var s strings.Builder
	s.WriteString(`[postgres]
versions_all = ["*"]
option_sets = ["barebones", "minimal", "regular", "full", "debug"]
targets = ["amd64", "arm64"]

[target.arm64]
unsupported = ["llvm", "plpython", "plperl", "pltcl"]
`)
	for i := range 1000 {
		name := fmt.Sprintf("ext%04d", i)
		fmt.Fprintf(&s, "\n[[extension]]\nname = %q\nversions = [", name)
		for v := range 10 {
			fmt.Fprintf(&s, "%q, ", fmt.Sprintf("1.%d", v))
		}
		fmt.Fprintf(&s, "]\nbuild = \"pgxs\"\npostgres = \">=12\"\n[[extension.source]]\nurls = [\"https://example.com/{name}/{name}-{version}.tar.gz\"]\nstrip_prefix = \"{name}-{version}\"\n")
		for v := range 10 {
			sum := sha256.Sum256(fmt.Appendf(nil, "%s-1.%d", name, v))
			fmt.Fprintf(&s, "[[extension.release]]\nversion = \"1.%d\"\nsha256 = %q\nsize = %d\n", v, hex.EncodeToString(sum[:]), 1000+v)
		}
	}
	manifest := filepath.Join(dir, "monogres.toml")
	if toolchain {
		root, err := os.ReadFile(filepath.Join("..", "..", "monogres.toml"))
		if err != nil {
			tb.Fatal(err)
		}
		i := strings.Index(string(root), "\n[toolchain]\n")
		if i < 0 {
			tb.Fatal("the repository's monogres.toml has no [toolchain]")
		}
		s.WriteString(string(root[i:]))
		_, rootLock, err := app.ReadLock(filepath.Join("..", "..", "monogres.lock"))
		if err != nil {
			tb.Fatal(err)
		}
		seed := &lock.Lock{Version: lock.FormatVersion, Manifest: "sha256:seed", Toolchain: rootLock.Toolchain, Roots: rootLock.Roots}
		for _, in := range rootLock.Inputs {
			if toolchainPin(in) {
				seed.Inputs = append(seed.Inputs, in)
			}
		}
		b, err := lock.Encode(seed)
		if err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "monogres.lock"), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	} else {
		os.Remove(filepath.Join(dir, "monogres.lock"))
	}
	if err := os.WriteFile(manifest, []byte(s.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	var stderr strings.Builder
	if code := Main(context.Background(), []string{"--manifest", manifest, "lock"}, strings.NewReader(""), io.Discard, &stderr); code != 0 {
		tb.Fatalf("lock: exit %d: %s", code, stderr.String())
	}
	if toolchain {
		if code := Main(context.Background(), []string{"--manifest", manifest, "fetch", "index/*"}, strings.NewReader(""), io.Discard, &stderr); code != 0 {
			tb.Fatalf("fetch index/*: exit %d: %s", code, stderr.String())
		}
	}
	return manifest
}

// benchDir is $MONOGRES_BENCH_DIR when set (to keep the generated manifest
// and lock for timing the binary), else a temporary directory.
func benchDir(b *testing.B) string {
	if d := os.Getenv("MONOGRES_BENCH_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		return d
	}
	return b.TempDir()
}

func benchMain(b *testing.B, out io.Writer, args ...string) {
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	for b.Loop() {
		var stderr strings.Builder
		if code := Main(context.Background(), args, strings.NewReader(""), out, &stderr); code != 0 {
			b.Fatalf("monogres %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/op")
	// CPU time is the steadier figure on a machine shared with other work.
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// cpuTime is the user+system CPU time of this process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLockCheck: `monogres lock --check` on the scale manifest with
// the repository's toolchain, checked before with the same files (the
// check's memo in the store: nothing is decoded). Target: under 150 ms.
func BenchmarkLockCheck(b *testing.B) {
	m := writeScaleManifest(b, benchDir(b), true)
	checkOnce(b, m)
	benchMain(b, io.Discard, "--manifest", m, "lock", "--check")
}

// BenchmarkLockCheckDecoded: the same without the check's memo (as after
// an edit of the manifest or the lock), once the index has been verified:
// both files are decoded and checked, the toolchain's verification is
// remembered (memo/lock-check).
func BenchmarkLockCheckDecoded(b *testing.B) {
	m := writeScaleManifest(b, benchDir(b), true)
	checkOnce(b, m)
	benchWithout(b, m, "lock-check-result")
}

// BenchmarkLockCheckDecode: the manifest decode alone on the same scale
// manifest, the floor under BenchmarkLockCheck (the same run, so the same
// machine load).
func BenchmarkLockCheckDecode(b *testing.B) {
	m := writeScaleManifest(b, benchDir(b), true)
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := manifest.Load(m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime()-cpu0).Milliseconds())/float64(b.N), "cpu-ms/op")
}

// BenchmarkLockCheckCold: the same, verifying the index every time: the
// InRelease signature, both Packages files against it, and every deb pin
// against the toolchain resolved again from them.
func BenchmarkLockCheckCold(b *testing.B) {
	m := writeScaleManifest(b, benchDir(b), true)
	checkOnce(b, m)
	benchCold(b, m)
}

// BenchmarkLockCheckRoot and BenchmarkLockCheckRootCold: `monogres lock
// --check` on the repository's own manifest.
func BenchmarkLockCheckRoot(b *testing.B) {
	m := filepath.Join("..", "..", "monogres.toml")
	checkOnce(b, m)
	benchMain(b, io.Discard, "--manifest", m, "lock", "--check")
}

func BenchmarkLockCheckRootCold(b *testing.B) {
	m := filepath.Join("..", "..", "monogres.toml")
	checkOnce(b, m)
	benchCold(b, m)
}

// checkOnce fetches the index files and runs lock --check once (which
// leaves the memo of a verified index in the store).
func checkOnce(b *testing.B, m string) {
	var stderr strings.Builder
	for _, args := range [][]string{{"fetch", "index/*"}, {"lock", "--check"}} {
		if code := Main(context.Background(), append([]string{"--manifest", m}, args...), strings.NewReader(""), io.Discard, &stderr); code != 0 {
			b.Fatalf("%s: exit %d: %s", args, code, stderr.String())
		}
	}
}

// benchCold times lock --check with the store's memos removed before each
// run.
func benchCold(b *testing.B, m string) {
	benchWithout(b, m, "lock-check", "lock-check-result")
}

// benchWithout times lock --check with the store's memo directories dirs
// removed before each run.
func benchWithout(b *testing.B, m string, dirs ...string) {
	st, err := app.OpenStore()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var elapsed, cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		for _, d := range dirs {
			os.RemoveAll(filepath.Join(st.Dir(), "memo", d))
		}
		b.StartTimer()
		t0, c0 := time.Now(), cpuTime()
		var stderr strings.Builder
		if code := Main(context.Background(), []string{"--manifest", m, "lock", "--check"}, strings.NewReader(""), io.Discard, &stderr); code != 0 {
			b.Fatalf("lock --check: exit %d: %s", code, stderr.String())
		}
		elapsed += time.Since(t0)
		cpu += cpuTime() - c0
	}
	b.ReportMetric(float64(elapsed.Milliseconds())/float64(b.N), "ms/op")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
}

// BenchmarkPlanCount: `monogres plan --count`, the whole matrix expanded.
func BenchmarkPlanCount(b *testing.B) {
	m := writeBenchManifest(b, benchDir(b))
	var out strings.Builder
	benchMain(b, &out, "--manifest", m, "plan", "--count")
	if !strings.HasSuffix(out.String(), "2300230\n") {
		b.Fatalf("plan --count printed %q", out.String()[max(0, out.Len()-20):])
	}
}

// BenchmarkPlanJSON: `monogres plan --json`, every cell encoded.
func BenchmarkPlanJSON(b *testing.B) {
	m := writeBenchManifest(b, benchDir(b))
	benchMain(b, io.Discard, "--manifest", m, "plan", "--json")
}

// defaultCells1518 are the repository's default cells whose source is
// reachable here and that the test suite builds: the 15.18 ones.
var defaultCells1518 = []string{
	"postgres~15.18~barebones~amd64", "postgres~15.18~minimal~amd64", "postgres~15.18~regular~amd64",
	"postgres~15.18~full~amd64", "postgres~15.18~debug~amd64",
	"postgres~15.18~barebones~arm64", "postgres~15.18~regular~arm64",
}

// BenchmarkNoopBuild: `monogres build --offline` when every selected cell
// is in the shared test store's action cache (issue 11's target: under 50
// ms), for the 7 default 15.18 cells and for all 14 default cells (no cell
// named: the manifest's default). A selection skips, naming the cell, when
// one is not cached: it never builds.
func BenchmarkNoopBuild(b *testing.B) {
	b.Setenv("MONOGRES_STORE", filepath.Join(testenv.CacheDir(b), "store"))
	manifest := filepath.Join("..", "..", "monogres.toml")
	for _, sel := range []struct {
		name  string
		cells []string
	}{{"default-15.18", defaultCells1518}, {"default", nil}} {
		b.Run(sel.name, func(b *testing.B) {
			args := append([]string{"--manifest", manifest, "build", "--offline", "--dry-run", "--json"}, sel.cells...)
			var dry strings.Builder
			if code := Main(context.Background(), args, strings.NewReader(""), &dry, io.Discard); code != 0 {
				b.Fatalf("build --dry-run: exit %d", code)
			}
			n := 0
			for line := range strings.Lines(dry.String()) {
				var r struct {
					Cell   string `json:"cell"`
					Cached bool   `json:"cached"`
				}
				if json.Unmarshal([]byte(line), &r) == nil && r.Cell != "" {
					if !r.Cached {
						b.Skipf("%s is not in the shared test store's action cache (build it first)", r.Cell)
					}
					n++
				}
			}
			args = append([]string{"--manifest", manifest, "build", "--offline", "--out", b.TempDir()}, sel.cells...)
			// The first build of this binary writes the evidence memos; the
			// no-op builds after it are what is measured.
			if code := Main(context.Background(), args, strings.NewReader(""), io.Discard, io.Discard); code != 0 {
				b.Fatalf("build: exit %d", code)
			}
			var out strings.Builder
			benchMain(b, &out, args...)
			if got := strings.Count(out.String(), "cached"); got < n {
				b.Fatalf("want %d cached cells, output:\n%s", n, out.String())
			}
			b.ReportMetric(float64(n), "cells")
		})
	}
}
