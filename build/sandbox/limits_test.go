package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/build/sandbox"
)

// limitErr fails t unless err is a *LimitError for limit, and returns it.
func limitErr(t *testing.T, r result, limit string) *sandbox.LimitError {
	t.Helper()
	var le *sandbox.LimitError
	if !errors.As(r.err, &le) || le.Limit != limit {
		t.Fatalf("got %v, want a %s limit error\nstdout:\n%s\nstderr:\n%s", r.err, limit, r.stdout, r.stderr)
	}
	t.Logf("%v", le)
	return le
}

// TestProcessLimit starts 2,000 processes in a sandbox with the default
// limits: they stop at the limit, the build fails naming it, the host can
// still start processes meanwhile, and none is left afterwards.
func TestProcessLimit(t *testing.T) {
	testRoot(t)
	const marker = "31337"
	// The default limit in the full tier; -short starts fewer of the 2,000
	// (the same pids.max or RLIMIT_NPROC path, without ~1,000 processes).
	spec, limit := sandbox.Spec{}, sandbox.DefaultLimits.Processes
	if testing.Short() {
		limit = 100
		spec.Limits.Processes = limit
	}
	done := make(chan result, 1)
	go func() { done <- run(t, context.Background(), spec, "probe", "spawn", "2000", marker) }()
	var most int
	for {
		select {
		case r := <-done:
			le := limitErr(t, r, "processes")
			if !strings.Contains(le.Detail, fmt.Sprintf("%d processes and threads", limit)) {
				t.Errorf("detail %q does not say the limit", le.Detail)
			}
			if most >= int(limit) {
				t.Errorf("%d sleeps ran at once, over the limit %d", most, limit)
			}
			if left := sleepers(marker); len(left) != 0 {
				t.Errorf("%d processes left on the host", len(left))
			}
			t.Logf("at most %d processes ran; %s", most, strings.TrimSpace(r.stdout))
			return
		case <-time.After(200 * time.Millisecond):
			n := len(sleepers(marker))
			most = max(most, n)
			if n > int(limit)/2 {
				// The host is unaffected: it starts processes as ever.
				if out, err := exec.Command("/bin/sh", "-c", "echo host ok").Output(); err != nil || string(out) != "host ok\n" {
					t.Errorf("the host could not start a process while the sandbox was at its limit: %v %q", err, out)
				}
			}
		}
	}
}

// TestTmpfsLimit fills /tmp, /dev/shm and /build/home: each stops at its
// size and the failure names the full tmpfs.
func TestTmpfsLimit(t *testing.T) {
	testRoot(t)
	for _, dir := range []string{"/tmp", "/dev/shm", sandbox.HomeDir} {
		t.Run(dir, func(t *testing.T) {
			spec := sandbox.Spec{Limits: sandbox.Limits{Tmpfs: 16 << 20}, Mounts: []sandbox.Mount{sandbox.Tmpfs(sandbox.HomeDir, 0o755)}}
			r := run(t, context.Background(), spec, "sh", "-c", "dd if=/dev/zero of="+dir+"/fill bs=1M count=100 2>&1; ls -l "+dir+"/fill; exit 1")
			le := limitErr(t, r, "tmpfs")
			if want := "tmpfs " + dir + " (16 MiB) is full"; le.Detail != want {
				t.Errorf("detail %q, want %q", le.Detail, want)
			}
			if !strings.Contains(r.stdout, "No space left on device") || !strings.Contains(r.stdout, " 16777216 ") {
				t.Errorf("the filler was not stopped at 16 MiB:\n%s", r.stdout)
			}
		})
	}
}

// TestMemoryLimit allocates 512 MiB under a 128 MiB limit.
func TestMemoryLimit(t *testing.T) {
	testRoot(t)
	r := run(t, context.Background(), sandbox.Spec{Limits: sandbox.Limits{Memory: 128 << 20}}, "probe", "alloc", "512")
	le := limitErr(t, r, "memory")
	if !strings.HasPrefix(le.Detail, "128 MiB (") {
		t.Errorf("detail %q does not say the limit", le.Detail)
	}
	if strings.Contains(r.stdout, "allocated 512 MiB") {
		t.Error("the allocation succeeded")
	}
}

// TestWallClockLimit: a command that outlives its wall clock is killed.
func TestWallClockLimit(t *testing.T) {
	testRoot(t)
	start := time.Now()
	r := run(t, context.Background(), sandbox.Spec{Limits: sandbox.Limits{WallClock: time.Second}}, "sleep", "60")
	limitErr(t, r, "wall clock")
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("killed after %v", took)
	}
}

// TestCPUTimeLimit: a busy loop is stopped at its CPU time.
func TestCPUTimeLimit(t *testing.T) {
	testRoot(t)
	r := run(t, context.Background(), sandbox.Spec{Limits: sandbox.Limits{CPUTime: time.Second}}, "sh", "-c", "while :; do :; done")
	limitErr(t, r, "cpu time")
}
