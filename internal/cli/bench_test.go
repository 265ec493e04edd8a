package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeBenchManifest writes the scale manifest of issue 2 to dir and locks
// it: every indexed Postgres release (versions_all = ["*"]), all 5 option
// sets, both arches, and 1,000 extensions × 10 versions, each version pinned
// by [[extension.release]] so locking needs no download. The lock holds
// 10,000 extension inputs plus the Postgres ones; the matrix has over 2M cells.
func writeBenchManifest(tb testing.TB, dir string) string {
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
	if err := os.WriteFile(manifest, []byte(s.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	var stderr strings.Builder
	if code := Main(context.Background(), []string{"--manifest", manifest, "lock"}, strings.NewReader(""), io.Discard, &stderr); code != 0 {
		tb.Fatalf("lock: exit %d: %s", code, stderr.String())
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

// BenchmarkLockCheck: `monogres lock --check` on the scale manifest. Target: under 200 ms.
func BenchmarkLockCheck(b *testing.B) {
	m := writeBenchManifest(b, benchDir(b))
	benchMain(b, io.Discard, "--manifest", m, "lock", "--check")
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
