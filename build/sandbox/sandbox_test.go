package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/monogres/monogres/build/sandbox"
)

func TestMain(m *testing.M) {
	sandbox.Init() // the sandbox init re-executes this test binary
	code := m.Run()
	if fixtureDir != "" {
		os.RemoveAll(fixtureDir)
	}
	os.Exit(code)
}

// fixtureDir holds the test root file system, built once per test binary.
var (
	fixtureDir  string
	fixtureOnce sync.Once
	fixtureRoot string
	fixtureErr  error
)

// testRoot returns a tiny root file system: a static busybox with all its
// applets in /bin, a static Go probe at /usr/bin/probe, /lib -> usr/lib and
// sbin -> bin symlinks, /etc/marker, empty /root and /home, and no /proc,
// /dev or /build (the sandbox must create those mount points itself).
// It skips the test unless run as root.
func testRoot(t testing.TB) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("sandbox integration tests run as root (CI runs them as root); skipping as uid", os.Geteuid())
	}
	fixtureOnce.Do(func() {
		fixtureDir, fixtureErr = os.MkdirTemp("", "sandbox-test-")
		if fixtureErr == nil {
			fixtureRoot = filepath.Join(fixtureDir, "root")
			fixtureErr = buildRoot(fixtureRoot)
		}
	})
	if fixtureErr != nil {
		t.Fatalf("building the test root: %v", fixtureErr)
	}
	return fixtureRoot
}

func buildRoot(root string) error {
	const busybox = "/bin/busybox"
	bb, err := os.ReadFile(busybox)
	if err != nil {
		return fmt.Errorf("%w (install the Debian package busybox-static, listed in .ci/apt-packages.txt)", err)
	}
	for _, d := range []string{"bin", "usr/bin", "usr/lib", "etc", "root", "home", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "bin/busybox"), bb, 0o755); err != nil {
		return err
	}
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		return fmt.Errorf("busybox --list: %w", err)
	}
	for _, name := range strings.Fields(string(list)) {
		if name == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(root, "bin", name)); err != nil {
			return err
		}
	}
	for link, target := range map[string]string{"lib": "usr/lib", "sbin": "bin"} {
		if err := os.Symlink(target, filepath.Join(root, link)); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc/marker"), []byte("from the test root\n"), 0o644); err != nil {
		return err
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("the go command builds the probe: %w", err)
	}
	build := exec.Command(gobin, "build", "-trimpath", "-o", filepath.Join(root, "usr/bin/probe"), "./testdata/probe")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building testdata/probe: %v\n%s", err, out)
	}
	return nil
}

type result struct {
	stdout, stderr string
	err            error
}

// run runs argv in a sandbox over the test root; fill in the rest of spec.
func run(t testing.TB, ctx context.Context, spec sandbox.Spec, argv ...string) result {
	t.Helper()
	if spec.Root == "" {
		spec.Root = testRoot(t)
	}
	if spec.Env == nil {
		spec.Env = sandbox.DefaultEnv(1700000000)
	}
	spec.Argv = argv
	var out, errb bytes.Buffer
	spec.Stdout, spec.Stderr = &out, &errb
	err := sandbox.Run(ctx, spec)
	if errors.Is(err, sandbox.ErrUnavailable) {
		t.Skipf("user namespaces unavailable on this machine: %v", err)
	}
	return result{out.String(), errb.String(), err}
}

func mustRun(t *testing.T, spec sandbox.Spec, argv ...string) string {
	t.Helper()
	r := run(t, context.Background(), spec, argv...)
	if r.err != nil {
		t.Fatalf("%q: %v\nstdout:\n%s\nstderr:\n%s", argv, r.err, r.stdout, r.stderr)
	}
	return r.stdout
}

func TestNetworkIsolated(t *testing.T) {
	testRoot(t)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, "host listener")
			c.Close()
		}
	}()
	hostAddr := ln.Addr().String()

	t.Run("host loopback unreachable", func(t *testing.T) {
		r := run(t, context.Background(), sandbox.Spec{}, "probe", "connect", hostAddr)
		if r.err == nil || !strings.Contains(r.stderr, "connection refused") {
			t.Fatalf("connecting to the host's %s from the sandbox: err %v, stdout %q, stderr %q; want a refused connection", hostAddr, r.err, r.stdout, r.stderr)
		}
	})
	t.Run("Network true shares the host network", func(t *testing.T) {
		out := mustRun(t, sandbox.Spec{Network: true}, "probe", "connect", hostAddr)
		if !strings.Contains(out, "host listener") {
			t.Fatalf("with Network: true, got %q", out)
		}
	})
	t.Run("external address unreachable", func(t *testing.T) {
		start := time.Now()
		r := run(t, context.Background(), sandbox.Spec{}, "probe", "connect", "192.0.2.1:80")
		if r.err == nil || !strings.Contains(r.stderr, "network is unreachable") {
			t.Fatalf("connecting to 192.0.2.1: err %v, stderr %q; want network is unreachable", r.err, r.stderr)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("failing took %v; no route should fail at once", d)
		}
	})
	t.Run("DNS fails", func(t *testing.T) {
		r := run(t, context.Background(), sandbox.Spec{}, "probe", "resolve", "deb.debian.org")
		if r.err == nil {
			t.Fatalf("resolving deb.debian.org inside the sandbox succeeded: %q", r.stdout)
		}
	})
	t.Run("only loopback, up", func(t *testing.T) {
		out := mustRun(t, sandbox.Spec{}, "probe", "ifaces")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 1 || !strings.HasPrefix(lines[0], "lo up|loopback|running") || !strings.Contains(lines[0], "127.0.0.1/8") {
			t.Fatalf("interfaces inside:\n%s\nwant only lo, up, with 127.0.0.1/8", out)
		}
	})
}

func TestLoopbackInside(t *testing.T) {
	out := mustRun(t, sandbox.Spec{}, "probe", "loopback")
	if strings.Count(out, "hello from inside") != 2 {
		t.Fatalf("listen+connect on 127.0.0.1 and ::1 inside:\n%s", out)
	}
}

func TestHostname(t *testing.T) {
	if got := mustRun(t, sandbox.Spec{}, "hostname"); got != "monogres\n" {
		t.Errorf("default hostname %q, want monogres", got)
	}
	if got := mustRun(t, sandbox.Spec{Hostname: "builder-7"}, "hostname"); got != "builder-7\n" {
		t.Errorf("hostname %q, want builder-7", got)
	}
}

func TestEnvIsExactlyTheBuiltEnv(t *testing.T) {
	t.Setenv("MONOGRES_HOST_ONLY", "leaked")
	env := sandbox.DefaultEnv(1234567890, "EXTRA=1")
	got := strings.Split(strings.TrimSpace(mustRun(t, sandbox.Spec{Env: env}, "env")), "\n")
	if strings.Join(got, "\n") != strings.Join(env, "\n") {
		t.Fatalf("env inside:\n%s\nwant exactly:\n%s", strings.Join(got, "\n"), strings.Join(env, "\n"))
	}
}

func TestHostFilesInvisible(t *testing.T) {
	for _, p := range []string{"/etc/os-release", "/usr/bin/env", "/root", "/home"} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("host precondition: %v", err)
		}
	}
	script := `
		for p in /etc/os-release /usr/bin/env /usr/bin/go /var /sys /run; do
			test -e $p && echo "visible: $p"
		done
		echo "root: $(ls -A /root | wc -l) home: $(ls -A /home | wc -l)"
		echo "usr/bin: $(ls /usr/bin)"
		cat /etc/marker
		ls /lib/ >/dev/null && readlink /lib
	`
	out := mustRun(t, sandbox.Spec{}, "sh", "-c", script)
	want := "root: 0 home: 0\nusr/bin: probe\nfrom the test root\nusr/lib\n"
	if out != want {
		t.Fatalf("inside:\n%s\nwant:\n%s", out, want)
	}
}

func TestWritesOutsideWritableMountsFail(t *testing.T) {
	root := testRoot(t)
	src, out := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "file.c"), []byte("int x;\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := sandbox.Spec{Mounts: []sandbox.Mount{sandbox.BindRO(src, sandbox.SrcDir), sandbox.BindRW(out, sandbox.OutDir)}}
	for _, uid := range []int{0, 1000} {
		spec.UID = uid
		for _, target := range []string{"/x", "/usr/x", "/etc/marker", "/bin/x", "/usr/lib/x", "/dev/x", "/build/x", "/build/src/file.c", "/build/src/new", "/proc/x"} {
			r := run(t, context.Background(), spec, "probe", "write", target)
			if r.err == nil {
				t.Errorf("uid %d: writing %s inside succeeded: %s", uid, target, r.stdout)
			}
		}
		// Even as root inside, the command cannot undo the read-only mounts.
		for _, script := range []string{
			"mount -o remount,bind,rw / && touch /x",
			"mount -o remount,bind,rw /usr && touch /usr/x",
			"mount -o remount,bind,rw /build/src && touch /build/src/x",
			"umount -l /build/src && test ! -e /build/src/file.c",
			"umount -l /usr && test ! -e /usr/bin/probe",
		} {
			if r := run(t, context.Background(), spec, "sh", "-c", script); r.err == nil {
				t.Errorf("uid %d: %q succeeded", uid, script)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(root, "usr/x")); err == nil {
		t.Fatal("a file appeared in the host's root directory")
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Fatalf("unexpected files in out: %v", ents)
	}
}

func TestWritableMounts(t *testing.T) {
	src, work, out := t.TempDir(), t.TempDir(), t.TempDir()
	for _, uid := range []int{0, 1000} {
		spec := sandbox.Spec{UID: uid, GID: uid, Mounts: sandbox.BuildMounts(src, work, out), Dir: sandbox.WorkDir}
		name := fmt.Sprintf("uid%d", uid)
		script := `set -e
			echo result > /build/out/` + name + `
			echo scratch > ` + name + `
			echo tmp > /tmp/x && cat /tmp/x
			echo home > $HOME/x && cat $HOME/x
			echo shm > /dev/shm/x && cat /dev/shm/x
			grep -E ' /(tmp|build/home) ' /proc/mounts | cut -d' ' -f1-3
			stat -c '%a' /tmp
		`
		got := mustRun(t, spec, "sh", "-c", script)
		want := "tmp\nhome\nshm\ntmpfs /tmp tmpfs\ntmpfs /build/home tmpfs\n1777\n"
		if got != want {
			t.Errorf("uid %d inside:\n%s\nwant:\n%s", uid, got, want)
		}
		for dir, content := range map[string]string{out: "result\n", work: "scratch\n"} {
			p := filepath.Join(dir, name)
			b, err := os.ReadFile(p)
			if err != nil || string(b) != content {
				t.Fatalf("uid %d: host file %s: %q, %v; want %q", uid, p, b, err, content)
			}
			st, _ := os.Stat(p)
			sys := st.Sys().(*syscall.Stat_t)
			if int(sys.Uid) != os.Geteuid() || int(sys.Gid) != os.Getegid() || st.Mode().Perm() != 0o644 {
				t.Errorf("uid %d: host file %s owned by %d:%d mode %v; want the caller %d:%d, 0644 (umask 022)", uid, p, sys.Uid, sys.Gid, st.Mode().Perm(), os.Geteuid(), os.Getegid())
			}
		}
	}
}

func TestIDs(t *testing.T) {
	for _, tc := range []struct{ uid, gid int }{{0, 0}, {1000, 1000}, {70, 71}} {
		got := mustRun(t, sandbox.Spec{UID: tc.uid, GID: tc.gid}, "sh", "-c", "id -u; id -g; cat /proc/self/uid_map | wc -l")
		want := fmt.Sprintf("%d\n%d\n1\n", tc.uid, tc.gid)
		if got != want {
			t.Errorf("UID %d GID %d: inside %q, want %q", tc.uid, tc.gid, got, want)
		}
	}
}

func TestPID1IsTheSandboxInit(t *testing.T) {
	// The processes are listed by the shell's own glob and echo (no child
	// of its own running): `ls /proc | grep` raced, ls sometimes reading
	// /proc before grep was forked (3 processes instead of 4 under load).
	got := mustRun(t, sandbox.Spec{}, "sh", "-c", `tr '\0' ' ' < /proc/1/cmdline; echo; echo $$; echo /proc/[0-9]*`)
	// Only the init and sh; the init's threads take the PIDs before sh.
	lines := strings.Split(got, "\n")
	if len(lines) != 4 || lines[0] != "monogres-sandbox-init " || lines[1] == "1" || lines[2] != "/proc/1 /proc/"+lines[1] {
		t.Fatalf("inside: %q; want PID 1 = monogres-sandbox-init, the command not PID 1, no other process", got)
	}
}

func TestOrphansAreReaped(t *testing.T) {
	// The subshell exits at once; its sleep is re-parented to PID 1, which
	// must reap it when it ends, or a zombie (state Z) remains.
	script := `(sleep 0.2 &); sleep 1; cat /proc/[0-9]*/stat | cut -d' ' -f2,3`
	got := mustRun(t, sandbox.Spec{}, "sh", "-c", script)
	if strings.Contains(got, " Z") || !strings.Contains(got, "(exe) S") && !strings.Contains(got, "(sandbox.test) S") {
		t.Fatalf("processes inside after an orphan ended:\n%s", got)
	}
}

func TestExitStatus(t *testing.T) {
	if r := run(t, context.Background(), sandbox.Spec{}, "true"); r.err != nil {
		t.Fatalf("true: %v", r.err)
	}
	r := run(t, context.Background(), sandbox.Spec{}, "sh", "-c", "exit 7")
	var ee *sandbox.ExitError
	if !errors.As(r.err, &ee) || ee.Code != 7 || ee.Signal != 0 || ee.Argv0 != "sh" {
		t.Fatalf("exit 7: %#v", r.err)
	}
	if ee.Error() != "sandboxed command sh exited with status 7" {
		t.Errorf("message %q", ee.Error())
	}
	r = run(t, context.Background(), sandbox.Spec{}, "sh", "-c", "kill -9 $$")
	if !errors.As(r.err, &ee) || ee.Signal != syscall.SIGKILL || ee.Code != 137 {
		t.Fatalf("kill -9: %#v", r.err)
	}
}

func TestSetupErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name string
		spec sandbox.Spec
		argv []string
		want []string
	}{
		{"missing bind source", sandbox.Spec{Mounts: []sandbox.Mount{sandbox.BindRO(missing, "/build/src")}}, []string{"true"}, []string{missing, "/build/src", "no such file"}},
		{"command not in PATH", sandbox.Spec{}, []string{"gcc"}, []string{`"gcc" not found`, sandbox.DefaultPath}},
		{"mount point in read-only root", sandbox.Spec{Mounts: []sandbox.Mount{sandbox.Tmpfs("/usr/share/new", 0)}}, []string{"true"}, []string{"/usr/share", "read-only"}},
		{"missing root", sandbox.Spec{Root: missing}, []string{"true"}, []string{"root " + missing, "no such file"}},
		{"missing working dir", sandbox.Spec{Dir: "/nope"}, []string{"true"}, []string{"/nope", "no such file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, context.Background(), tc.spec, tc.argv...)
			var se *sandbox.SetupError
			if !errors.As(r.err, &se) {
				t.Fatalf("got %v, want a *SetupError", r.err)
			}
			for _, w := range tc.want {
				if !strings.Contains(se.Error(), w) {
					t.Errorf("error %q does not mention %q", se.Error(), w)
				}
			}
		})
	}
}

func TestLimitsAndUmask(t *testing.T) {
	spec := sandbox.Spec{Limits: sandbox.Limits{NoFile: 256, Processes: 500, Memory: 4 << 30, CPUTime: 90 * time.Second}}
	got := mustRun(t, spec, "sh", "-c", `ulimit -n; umask; grep -E '^Max (open files|processes|cpu time)' /proc/self/limits | tr -s ' '`)
	want := "256\n0022\nMax cpu time 90 95 seconds \nMax processes 500 500 processes \nMax open files 256 256 files \n"
	if got != want {
		t.Fatalf("inside:\n%s\nwant:\n%s", got, want)
	}
	r := run(t, context.Background(), sandbox.Spec{Limits: sandbox.Limits{NoFile: 256}}, "sh", "-c", "exec 3</dev/null; i=0; while [ $i -lt 300 ]; do eval \"exec $((i+10))</dev/null\" || exit 3; i=$((i+1)); done")
	var ee *sandbox.ExitError
	if !errors.As(r.err, &ee) {
		t.Fatalf("opening 300 files under RLIMIT_NOFILE 256: %v, want a failure", r.err)
	}
}

func TestDev(t *testing.T) {
	script := `set -e
		ls /dev | tr '\n' ' '; echo
		echo x > /dev/null
		head -c 5 /dev/urandom | wc -c
		head -c 3 /dev/zero | od -An -tx1
		readlink /dev/fd; readlink /dev/stdin
		! touch /dev/new 2>/dev/null
	`
	got := mustRun(t, sandbox.Spec{}, "sh", "-c", script)
	want := "fd full null random shm stderr stdin stdout urandom zero \n5\n 00 00 00\n/proc/self/fd\n/proc/self/fd/0\n"
	if got != want {
		t.Fatalf("inside:\n%s\nwant:\n%s", got, want)
	}
}

func TestStdin(t *testing.T) {
	spec := sandbox.Spec{Stdin: strings.NewReader("fed through stdin\n")}
	if got := mustRun(t, spec, "cat"); got != "fed through stdin\n" {
		t.Fatalf("cat: %q", got)
	}
}

// TestCancelKillsTree starts a tree of sleeps (one orphaned to PID 1, one
// child of the shell, one the shell is waiting on) and cancels the context:
// Run must return at once and no sleep may survive on the host.
func TestCancelKillsTree(t *testing.T) {
	testRoot(t)
	const marker = "98765"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan result, 1)
	go func() {
		done <- run(t, ctx, sandbox.Spec{}, "sh", "-c", "(sleep "+marker+" &); sleep "+marker+" & sleep "+marker)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for len(sleepers(marker)) < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the sleeps did not start; running: %v", sleepers(marker))
		}
		time.Sleep(20 * time.Millisecond)
	}
	start := time.Now()
	cancel()
	r := <-done
	took := time.Since(start)
	if !errors.Is(r.err, context.Canceled) {
		t.Errorf("Run returned %v, want context.Canceled", r.err)
	}
	if took > 2*time.Second {
		t.Errorf("Run returned %v after the cancel", took)
	}
	if left := sleepers(marker); len(left) != 0 {
		t.Fatalf("processes left on the host after cancel: %v", left)
	}
	t.Logf("Run returned %v after cancel", took)
}

// sleepers lists host pids running "sleep <marker>".
func sleepers(marker string) []string {
	var pids []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && string(b) == "sleep\x00"+marker+"\x00" {
			pids = append(pids, e.Name())
		}
	}
	return pids
}

func TestCanceledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if r := run(t, ctx, sandbox.Spec{}, "true"); !errors.Is(r.err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", r.err)
	}
}

// BenchmarkStart measures the overhead of a sandbox: start, set up, run
// busybox true, tear down.
func BenchmarkStart(b *testing.B) {
	root := testRoot(b)
	spec := sandbox.Spec{Root: root, Env: sandbox.DefaultEnv(0), Argv: []string{"/bin/true"},
		Mounts: sandbox.BuildMounts(b.TempDir(), b.TempDir(), b.TempDir()), Stdout: io.Discard}
	ctx := context.Background()
	for b.Loop() {
		if err := sandbox.Run(ctx, spec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/start")
}

// unprivRootEnv carries the test root to TestUnprivilegedHelper when
// TestUnprivilegedCaller re-runs this test binary as nobody.
const unprivRootEnv = "MONOGRES_SANDBOX_TEST_UNPRIVILEGED_ROOT"

// TestUnprivilegedCaller runs TestUnprivilegedHelper in a copy of this test
// binary as uid/gid 65534, to show the sandbox works without root where the
// kernel allows unprivileged user namespaces.
func TestUnprivilegedCaller(t *testing.T) {
	root := testRoot(t)
	const nobody = 65534
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	// The test directories are 0700; nobody must reach the root, the binary
	// and out.
	for _, p := range []string{filepath.Dir(root), filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(out, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "sandbox.test")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestUnprivilegedHelper$", "-test.v", "-test.count=1")
	cmd.Dir = dir
	cmd.Env = []string{unprivRootEnv + "=" + root, "OUT=" + out, "PATH=/usr/bin:/bin", "HOME=/nonexistent"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody, Groups: []uint32{}}}
	b, err := cmd.CombinedOutput()
	if strings.Contains(string(b), "--- SKIP") {
		t.Skipf("as uid %d: %s", nobody, b)
	}
	if err != nil || !strings.Contains(string(b), "--- PASS: TestUnprivilegedHelper") {
		t.Fatalf("as uid %d: %v\n%s", nobody, err, b)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "started ") {
			t.Logf("as uid %d: %s", nobody, strings.TrimSpace(line))
		}
	}
	st, err := os.Stat(filepath.Join(out, "f"))
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); sys.Uid != nobody || sys.Gid != nobody {
		t.Fatalf("file written inside is owned by %d:%d on the host, want the caller %d:%d", sys.Uid, sys.Gid, nobody, nobody)
	}
}

// TestUnprivilegedHelper is run by TestUnprivilegedCaller, as uid 65534.
func TestUnprivilegedHelper(t *testing.T) {
	root := os.Getenv(unprivRootEnv)
	if root == "" {
		t.Skip("run by TestUnprivilegedCaller only")
	}
	if os.Geteuid() == 0 {
		t.Fatal("expected to run as a non-root user")
	}
	spec := sandbox.Spec{Root: root, UID: 1000, GID: 1000, Mounts: []sandbox.Mount{sandbox.BindRW(os.Getenv("OUT"), sandbox.OutDir)}}
	got := mustRun(t, spec, "sh", "-c", "id -u; id -g; hostname; echo x > /build/out/f; ! touch /usr/x 2>/dev/null; probe ifaces | cut -d' ' -f1")
	if want := "1000\n1000\nmonogres\nlo\n"; got != want {
		t.Fatalf("inside, as an unprivileged caller: %q, want %q", got, want)
	}
	// The process limit where no pids cgroup can be made (this uid owns
	// none): RLIMIT_NPROC, which the kernel enforces for a non-root uid.
	// 2,000 processes are asked for; at most the limit start.
	const limit = 50
	spec = sandbox.Spec{Root: root, UID: 1000, GID: 1000, Limits: sandbox.Limits{Processes: limit}}
	r := run(t, context.Background(), spec, "probe", "spawn", "2000", "31338")
	var started int
	if _, err := fmt.Sscanf(r.stdout, "started %d of 2000", &started); err != nil || r.err == nil || started >= limit {
		t.Fatalf("2,000 processes under a limit of %d: %v, stdout %q, stderr %q", limit, r.err, r.stdout, r.stderr)
	}
	var le *sandbox.LimitError
	if errors.As(r.err, &le) {
		t.Logf("started %d of 2000: %v", started, le)
	} else {
		t.Logf("started %d of 2000 (RLIMIT_NPROC): %v", started, r.err)
	}
}

// TestUnavailable runs TestUnavailableHelper in a user namespace whose
// user.max_user_namespaces is 0 (the limit is per user namespace, so the
// host is untouched): Run must fail with ErrUnavailable and say what to do.
func TestUnavailable(t *testing.T) {
	testRoot(t)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^TestUnavailableHelper$", "-test.v", "-test.count=1")
	cmd.Env = []string{"MONOGRES_SANDBOX_TEST_UNAVAILABLE=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 1}},
	}
	b, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(b), "--- PASS: TestUnavailableHelper") {
		t.Fatalf("%v\n%s", err, b)
	}
}

func TestUnavailableHelper(t *testing.T) {
	if os.Getenv("MONOGRES_SANDBOX_TEST_UNAVAILABLE") == "" {
		t.Skip("run by TestUnavailable only")
	}
	if err := os.WriteFile("/proc/sys/user/max_user_namespaces", []byte("0\n"), 0); err != nil {
		t.Fatal(err)
	}
	err := sandbox.Run(context.Background(), sandbox.Spec{Root: "/", Argv: []string{"true"}})
	if !errors.Is(err, sandbox.ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	for _, want := range []string{"user.max_user_namespaces", "kernel.apparmor_restrict_unprivileged_userns", "true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q:\n%v", want, err)
		}
	}
	t.Log(err)
}

// TestConcurrentRuns runs several sandboxes at once; each must see only its
// own hostname and output directory.
func TestConcurrentRuns(t *testing.T) {
	testRoot(t)
	const n = 6
	outs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		outs[i] = t.TempDir()
		wg.Go(func() {
			spec := sandbox.Spec{Hostname: fmt.Sprintf("h%d", i), Mounts: []sandbox.Mount{sandbox.BindRW(outs[i], sandbox.OutDir)}}
			r := run(t, context.Background(), spec, "sh", "-c", "hostname > /build/out/name; ls /build/out | wc -l >> /build/out/name; sleep 0.2")
			errs[i] = r.err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("sandbox %d: %v", i, errs[i])
		}
		b, err := os.ReadFile(filepath.Join(outs[i], "name"))
		if want := fmt.Sprintf("h%d\n1\n", i); err != nil || string(b) != want {
			t.Errorf("sandbox %d wrote %q (%v), want %q", i, b, err, want)
		}
	}
}

// TestMainPattern builds testdata/runner, a program whose main calls Init
// and then Run, and a copy that leaves Init out.
func TestMainPattern(t *testing.T) {
	root := testRoot(t)
	dir := t.TempDir()
	runner := filepath.Join(dir, "runner")
	if out, err := exec.Command("go", "build", "-o", runner, "./testdata/runner").CombinedOutput(); err != nil {
		t.Fatalf("building testdata/runner: %v\n%s", err, out)
	}
	out, err := exec.Command(runner, root, "hostname").CombinedOutput()
	if err != nil || string(out) != "monogres\n" {
		t.Fatalf("runner: %v\n%s", err, out)
	}
	noinit := filepath.Join(dir, "runner-noinit")
	if err := os.Link(runner, noinit); err != nil {
		t.Fatal(err)
	}
	out, err = exec.Command(noinit, root, "hostname").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "does this program call sandbox.Init first thing in main") {
		t.Fatalf("runner without Init: %v\n%s", err, out)
	}
}
