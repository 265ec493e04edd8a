package store

import (
	"context"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkWritePath1GiB compares the store's write path (AddFile: read,
// hash, write to tmp/, fsync, rename) and a hash-only pass over the same
// 1 GiB file with `sha256sum` on it (page cache warm for all). Reported:
// MB/s of each and the ratios to sha256sum.
func BenchmarkWritePath1GiB(b *testing.B) {
	if _, err := exec.LookPath("sha256sum"); err != nil {
		b.Skip("sha256sum not installed")
	}
	dir := b.TempDir()
	src := filepath.Join(dir, "big")
	f, err := os.Create(src)
	if err != nil {
		b.Fatal(err)
	}
	block := make([]byte, 1<<20)
	rand.Read(block)
	for i := 0; i < 1024; i++ {
		block[0] = byte(i)
		f.Write(block)
	}
	f.Close()
	const size = 1 << 30
	ctx := context.Background()
	mbps := func(d time.Duration) float64 { return float64(size) / 1e6 / d.Seconds() }

	// Warm the page cache.
	HashFile(ctx, src)
	var tSum, tHash, tAdd time.Duration
	for i := 0; i < b.N; i++ {
		start := time.Now()
		out, err := exec.Command("sha256sum", src).Output()
		if err != nil {
			b.Fatal(err)
		}
		tSum += time.Since(start)

		start = time.Now()
		sha, _, err := HashFile(ctx, src)
		if err != nil {
			b.Fatal(err)
		}
		tHash += time.Since(start)
		if !strings.HasPrefix(string(out), sha) {
			b.Fatalf("sha256sum %s vs %s", out, sha)
		}

		s, err := Open(filepath.Join(dir, "store"))
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		got, _, err := s.AddFile(ctx, src)
		if err != nil || got != sha {
			b.Fatal(got, err)
		}
		tAdd += time.Since(start)
		os.RemoveAll(filepath.Join(dir, "store"))
	}
	n := float64(b.N)
	b.ReportMetric(mbps(tSum/time.Duration(n)), "sha256sum-MB/s")
	b.ReportMetric(mbps(tHash/time.Duration(n)), "hash-MB/s")
	b.ReportMetric(mbps(tAdd/time.Duration(n)), "addfile-MB/s")
	b.ReportMetric(tSum.Seconds()/tHash.Seconds(), "hash/sha256sum")
	b.ReportMetric(tSum.Seconds()/tAdd.Seconds(), "addfile/sha256sum")
}
