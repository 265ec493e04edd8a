package sandbox_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

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
	r, most := spawnUnderLimit(t, spec, limit, marker, nil)
	le := limitErr(t, r, "processes")
	if !strings.Contains(le.Detail, fmt.Sprintf("%d processes and threads", limit)) {
		t.Errorf("detail %q does not say the limit", le.Detail)
	}
	t.Logf("at most %d processes ran; %s", most, strings.TrimSpace(r.stdout))
}

// spawnUnderLimit runs the probe that asks for 2,000 processes in spec and
// watches the host meanwhile: the host keeps starting processes while the
// sandbox is near its limit, no more than limit run at once, and none is
// left afterwards. sample, if set, sees the sandbox's processes (host pids)
// at each look. It returns the probe's result and the most seen at once.
func spawnUnderLimit(t *testing.T, spec sandbox.Spec, limit int64, marker string, sample func(pids []string)) (result, int) {
	t.Helper()
	done := make(chan result, 1)
	go func() { done <- run(t, context.Background(), spec, "probe", "spawn", "2000", marker) }()
	var most int
	for {
		select {
		case r := <-done:
			if most >= int(limit) {
				t.Errorf("%d sleeps ran at once, over the limit %d", most, limit)
			}
			if left := sleepers(marker); len(left) != 0 {
				t.Errorf("%d processes left on the host", len(left))
			}
			return r, most
		case <-time.After(200 * time.Millisecond):
			pids := sleepers(marker)
			most = max(most, len(pids))
			if sample != nil && len(pids) > 0 {
				sample(pids)
			}
			if len(pids) > int(limit)/2 {
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

// noCgroupEnv tells TestProcessLimitNoCgroupHelper that
// TestProcessLimitRootWithoutCgroup started it in a mount namespace of its own.
const noCgroupEnv = "MONOGRES_SANDBOX_TEST_NO_CGROUP"

// TestProcessLimitRootWithoutCgroup: as root on a host without a pids cgroup
// (this test binary re-run in a private mount namespace whose /sys/fs/cgroup
// is an empty tmpfs, so no cgroup hierarchy is mounted), 2,000 processes stop
// at the limit and the host is unaffected. The kernel does not apply
// RLIMIT_NPROC to host root, so the sandbox must run as an unprivileged host
// uid; builds must still write their root-owned host directories (the files
// stay root's on the host) and read the root's files.
func TestProcessLimitRootWithoutCgroup(t *testing.T) {
	root := testRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The build's directories, as build/engine.go makes them: root-owned,
	// below a private (0700) scratch directory.
	scratch := t.TempDir()
	if err := os.Chmod(scratch, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"src", "work", "out"} {
		if err := os.Mkdir(filepath.Join(scratch, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(scratch, "src", "secret"), []byte("private source\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(scratch, "src", "ro"), []byte("store entry\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	args := []string{"-test.run=^TestProcessLimitNoCgroupHelper$", "-test.v", "-test.count=1"}
	if testing.Short() {
		args = append(args, "-test.short")
	}
	cmd := exec.Command(self, args...)
	cmd.Env = []string{noCgroupEnv + "=1", "ROOT=" + root, "SCRATCH=" + scratch, "PATH=/usr/bin:/bin"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "--- PASS: TestProcessLimitNoCgroupHelper") {
		t.Fatalf("%v\n%s", err, b)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "started ") || strings.Contains(line, "limit") {
			t.Log(strings.TrimSpace(line))
		}
	}
	st, err := os.Stat(filepath.Join(scratch, "out", "f"))
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 0 || sys.Gid != 0 {
		t.Errorf("a file written inside is owned by %d:%d on the host, want the caller 0:0", sys.Uid, sys.Gid)
	}
	for _, p := range []string{"src", "work", "out", "src/secret"} {
		st, err := os.Stat(filepath.Join(scratch, p))
		if err != nil {
			t.Fatal(err)
		}
		if sys := st.Sys().(*syscall.Stat_t); sys.Uid != 0 || sys.Gid != 0 {
			t.Errorf("host %s is owned by %d:%d after the run, want 0:0 as before", p, sys.Uid, sys.Gid)
		}
	}
}

// TestProcessLimitNoCgroupHelper is run by TestProcessLimitRootWithoutCgroup.
func TestProcessLimitNoCgroupHelper(t *testing.T) {
	if os.Getenv(noCgroupEnv) == "" {
		t.Skip("run by TestProcessLimitRootWithoutCgroup only")
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	// No cgroup hierarchy at all: the host of the issue.
	if err := unix.Unmount("/sys/fs/cgroup", unix.MNT_DETACH); err != nil && err != unix.EINVAL {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", "/sys/fs/cgroup", "tmpfs", 0, "mode=0755"); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err != nil || strings.Contains(string(b), " - cgroup") {
		t.Fatalf("a cgroup hierarchy is still mounted (%v):\n%s", err, b)
	}
	root, scratch := os.Getenv("ROOT"), os.Getenv("SCRATCH")
	mounts := sandbox.BuildMounts(filepath.Join(scratch, "src"), filepath.Join(scratch, "work"), filepath.Join(scratch, "out"))
	mounts[0].ReadOnly = false // the engine binds the source writable
	spec := sandbox.Spec{Root: root, Mounts: mounts}
	got := mustRun(t, spec, "sh", "-c", "id -u; stat -c %u:%g /etc/marker /build/work; cat /build/src/secret /build/src/ro; echo x > /build/out/f; mkdir /build/work/d && echo y > /build/work/d/g && cat /build/work/d/g; echo z >> /build/src/secret")
	if want := "0\n0:0\n0:0\nprivate source\nstore entry\ny\n"; got != want {
		t.Fatalf("inside, as root without a pids cgroup: %q, want %q", got, want)
	}

	const marker = "31339"
	spec, limit := sandbox.Spec{Root: root}, sandbox.DefaultLimits.Processes
	if testing.Short() {
		limit = 100
		spec.Limits.Processes = limit
	}
	r, most := spawnUnderLimit(t, spec, limit, marker, func(pids []string) {
		// On the host the sandbox's processes run as IsolatedID.
		b, _ := os.ReadFile(filepath.Join("/proc", pids[0], "status"))
		if want := fmt.Sprintf("\nUid:\t%d\t%d\t", sandbox.IsolatedID, sandbox.IsolatedID); !strings.Contains(string(b), want) && len(b) > 0 {
			t.Errorf("a sandboxed process's host status does not show uid %d:\n%s", sandbox.IsolatedID, b)
		}
	})
	var started int
	if _, err := fmt.Sscanf(r.stdout, "started %d of 2000", &started); err != nil || r.err == nil || started >= int(limit) {
		t.Fatalf("2,000 processes under a limit of %d as root without a pids cgroup: %v, stdout %q, stderr %q", limit, r.err, r.stdout, r.stderr)
	}
	t.Logf("started %d of 2000 under a limit of %d (at most %d seen at once): %v", started, limit, most, r.err)
}
