package sandbox

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// defaultDev is what Plan makes of the default /dev.
var defaultDev = devWith(false)

// devWith is the default /dev, with /dev/tty if tty.
func devWith(tty bool) []Op {
	ops := []Op{
		{Kind: OpTmpfs, Target: "/dev", Mode: 0o755, Size: 1 << 20},
		{Kind: OpBind, Source: "/dev/null", Target: "/dev/null"},
		{Kind: OpBind, Source: "/dev/zero", Target: "/dev/zero"},
		{Kind: OpBind, Source: "/dev/full", Target: "/dev/full"},
		{Kind: OpBind, Source: "/dev/random", Target: "/dev/random"},
		{Kind: OpBind, Source: "/dev/urandom", Target: "/dev/urandom"},
	}
	if tty {
		ops = append(ops, Op{Kind: OpBind, Source: "/dev/tty", Target: "/dev/tty"})
	}
	return append(ops,
		Op{Kind: OpTmpfs, Target: "/dev/shm", Mode: 0o1777, Size: 2 << 30},
		Op{Kind: OpSymlink, Target: "/dev/fd", Link: "/proc/self/fd"},
		Op{Kind: OpSymlink, Target: "/dev/stdin", Link: "/proc/self/fd/0"},
		Op{Kind: OpSymlink, Target: "/dev/stdout", Link: "/proc/self/fd/1"},
		Op{Kind: OpSymlink, Target: "/dev/stderr", Link: "/proc/self/fd/2"},
	)
}

// defaultRlimits are the Rlimits of DefaultLimits.
var defaultRlimits = Rlimits{NProc: 1024, CPU: 7200}

func ops(parts ...[]Op) []Op {
	var all []Op
	for _, p := range parts {
		all = append(all, p...)
	}
	return all
}

func TestPlan(t *testing.T) {
	env := []string{"PATH=/bin", "TZ=UTC"}
	for _, tc := range []struct {
		name string
		spec Spec
		want Setup
	}{
		{
			name: "minimal",
			spec: Spec{Root: "/r", Argv: []string{"true"}},
			want: Setup{
				Ops: ops(
					[]Op{{Kind: OpRoot, Source: "/r", Skip: []string{"dev", "proc", "tmp"}}},
					[]Op{{Kind: OpProc, Target: "/proc"}},
					defaultDev,
					[]Op{{Kind: OpTmpfs, Target: "/tmp", Mode: 0o1777, Size: 2 << 30}},
					[]Op{{Kind: OpReadOnly, Target: "/dev"}, {Kind: OpReadOnly, Target: "/"}},
				),
				Hostname: "monogres", Umask: 0o22, Limits: DefaultLimits, Rlimits: defaultRlimits,
				Exec: Exec{Argv: []string{"true"}, Env: []string{}, Dir: "/"},
			},
		},
		{
			name: "terminal, emulator, tmpfs size",
			spec: Spec{Root: "/r", Argv: []string{"bash"}, TTY: true, Binfmt: []Binfmt{QemuAarch64("/usr/bin/qemu-aarch64-static")}, Limits: Limits{Tmpfs: 1 << 20}},
			want: Setup{
				Ops: ops(
					[]Op{{Kind: OpRoot, Source: "/r", Skip: []string{"dev", "proc", "tmp"}}},
					[]Op{{Kind: OpProc, Target: "/proc"}},
					func() []Op {
						d := devWith(true)
						d[7].Size = 1 << 20 // shm
						return d
					}(),
					[]Op{{Kind: OpTmpfs, Target: "/tmp", Mode: 0o1777, Size: 1 << 20}},
					[]Op{{Kind: OpReadOnly, Target: "/dev"}, {Kind: OpReadOnly, Target: "/"}},
				),
				Hostname: "monogres", Umask: 0o22, TTY: true,
				Binfmt: []Binfmt{QemuAarch64("/usr/bin/qemu-aarch64-static")},
				Limits: func() Limits { l := DefaultLimits; l.Tmpfs = 1 << 20; return l }(), Rlimits: defaultRlimits,
				Exec: Exec{Argv: []string{"bash"}, Env: []string{}, Dir: "/"},
			},
		},
		{
			name: "build layout, uid, limits, network",
			spec: Spec{
				Root:     "/store/roots/abc/",
				Mounts:   BuildMounts("/src", "/work", "/out"),
				Argv:     []string{"make", "-j2"},
				Env:      env,
				Dir:      "/build/work/",
				Hostname: "h",
				Network:  true,
				UID:      1000, GID: 1001,
				Limits: Limits{NoFile: 1024, CPUTime: time.Minute},
			},
			want: Setup{
				Ops: ops(
					[]Op{{Kind: OpRoot, Source: "/store/roots/abc", Skip: []string{"dev", "proc", "tmp"}}},
					[]Op{{Kind: OpProc, Target: "/proc"}},
					defaultDev,
					[]Op{
						{Kind: OpTmpfs, Target: "/tmp", Mode: 0o1777, Size: 2 << 30},
						{Kind: OpBind, Source: "/src", Target: "/build/src", ReadOnly: true},
						{Kind: OpBind, Source: "/work", Target: "/build/work"},
						{Kind: OpBind, Source: "/out", Target: "/build/out"},
						{Kind: OpTmpfs, Target: "/build/home", Mode: 0o755, Size: 2 << 30},
						{Kind: OpReadOnly, Target: "/dev"},
						{Kind: OpReadOnly, Target: "/"},
					},
				),
				Hostname: "h", Network: true, UID: 1000, GID: 1001,
				Limits:  func() Limits { l := DefaultLimits; l.NoFile, l.CPUTime = 1024, time.Minute; return l }(),
				Rlimits: Rlimits{NoFile: 1024, NProc: 1024, CPU: 60}, Umask: 0o22,
				Exec: Exec{Argv: []string{"make", "-j2"}, Env: env, Dir: "/build/work"},
			},
		},
		{
			name: "caller mounts replace defaults, parents first, read-only last",
			spec: Spec{
				Root: "/r",
				Argv: []string{"sh"},
				Mounts: []Mount{
					{Kind: KindBind, Source: "/cache/ccache", Target: "/tmp/ccache"},
					{Kind: KindTmpfs, Target: "/tmp", Size: 1 << 30, Mode: 0o700 | os.ModeSticky},
					{Kind: KindTmpfs, Target: "/opt/ro", ReadOnly: true},
					{Kind: KindDev, Target: "/dev"},
					{Kind: KindBind, Source: "/data", Target: "/data", ReadOnly: true},
				},
			},
			want: Setup{
				Ops: ops(
					[]Op{{Kind: OpRoot, Source: "/r", Skip: []string{"data", "dev", "proc", "tmp"}}},
					[]Op{
						{Kind: OpProc, Target: "/proc"},
						{Kind: OpTmpfs, Target: "/tmp", Mode: 0o1700, Size: 1 << 30},
					},
					defaultDev,
					[]Op{
						{Kind: OpBind, Source: "/data", Target: "/data", ReadOnly: true},
						{Kind: OpBind, Source: "/cache/ccache", Target: "/tmp/ccache"},
						{Kind: OpTmpfs, Target: "/opt/ro", Mode: 0o755, Size: 2 << 30},
						{Kind: OpReadOnly, Target: "/opt/ro"},
						{Kind: OpReadOnly, Target: "/dev"},
						{Kind: OpReadOnly, Target: "/"},
					},
				),
				Hostname: "monogres", Umask: 0o22, Limits: DefaultLimits, Rlimits: defaultRlimits,
				Exec: Exec{Argv: []string{"sh"}, Env: []string{}, Dir: "/"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Plan(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Plan (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanDoesNotAliasSpec(t *testing.T) {
	spec := Spec{Root: "/r", Argv: []string{"a", "b"}, Env: []string{"A=1"}}
	got, err := Plan(spec)
	if err != nil {
		t.Fatal(err)
	}
	spec.Argv[0], spec.Env[0] = "changed", "B=2"
	if got.Exec.Argv[0] != "a" || got.Exec.Env[0] != "A=1" {
		t.Fatalf("Setup shares slices with Spec: %+v", got.Exec)
	}
}

func TestPlanErrors(t *testing.T) {
	ok := Spec{Root: "/r", Argv: []string{"true"}}
	with := func(f func(*Spec)) Spec {
		s := ok
		f(&s)
		return s
	}
	for _, tc := range []struct {
		name string
		spec Spec
		want string
	}{
		{"no root", with(func(s *Spec) { s.Root = "" }), "Root is empty"},
		{"relative root", with(func(s *Spec) { s.Root = "roots/x" }), `Root "roots/x" is not an absolute path`},
		{"no argv", with(func(s *Spec) { s.Argv = nil }), "Argv is empty"},
		{"empty argv0", with(func(s *Spec) { s.Argv = []string{""} }), "Argv is empty"},
		{"env without =", with(func(s *Spec) { s.Env = []string{"A=1", "HOME"} }), `Env[1] "HOME" is not KEY=value`},
		{"env empty key", with(func(s *Spec) { s.Env = []string{"=x"} }), `Env[0] "=x" is not KEY=value`},
		{"env NUL", with(func(s *Spec) { s.Env = []string{"A=\x00"} }), "NUL"},
		{"relative dir", with(func(s *Spec) { s.Dir = "build" }), `Dir "build" is not an absolute path`},
		{"long hostname", with(func(s *Spec) { s.Hostname = strings.Repeat("h", 65) }), "not a valid host name"},
		{"negative uid", with(func(s *Spec) { s.UID = -1 }), "UID -1 is outside 0..65533"},
		{"nobody gid", with(func(s *Spec) { s.GID = 65534 }), "GID 65534 is outside 0..65533"},
		{"negative cpu", with(func(s *Spec) { s.Limits.CPUTime = -time.Second }), "Limits.CPUTime is negative"},
		{"negative tmpfs", with(func(s *Spec) { s.Limits.Tmpfs = -1 }), "Limits.Tmpfs is negative"},
		{"binfmt name", with(func(s *Spec) { s.Binfmt = []Binfmt{{Name: "a:b", Magic: "x", Interpreter: "/q"}} }), "name must be letters"},
		{"binfmt relative interpreter", with(func(s *Spec) { s.Binfmt = []Binfmt{QemuAarch64("qemu")} }), "interpreter \"qemu\" is not an absolute path"},
		{"relative target", with(func(s *Spec) { s.Mounts = []Mount{BindRO("/a", "build/src")} }), `Mounts[0] (target "build/src"): target must be an absolute, clean path`},
		{"unclean target", with(func(s *Spec) { s.Mounts = []Mount{Tmpfs("/a", 0), BindRO("/a", "/build/../etc")} }), `Mounts[1] (target "/build/../etc"): target must be an absolute, clean path`},
		{"root target", with(func(s *Spec) { s.Mounts = []Mount{BindRO("/a", "/")} }), "cannot mount over /"},
		{"duplicate target", with(func(s *Spec) { s.Mounts = []Mount{BindRO("/a", "/x"), Tmpfs("/x", 0)} }), `Mounts[1] (target "/x"): same target as Mounts[0]`},
		{"bind without source", with(func(s *Spec) { s.Mounts = []Mount{{Kind: KindBind, Target: "/x"}} }), `bind source "" is not an absolute host path`},
		{"relative source", with(func(s *Spec) { s.Mounts = []Mount{BindRW("out", "/x")} }), `bind source "out" is not an absolute host path`},
		{"tmpfs with source", with(func(s *Spec) { s.Mounts = []Mount{{Kind: KindTmpfs, Source: "/a", Target: "/x"}} }), `a tmpfs mount takes no source (got "/a")`},
		{"negative size", with(func(s *Spec) { s.Mounts = []Mount{{Kind: KindTmpfs, Target: "/x", Size: -1}} }), "tmpfs size -1 is negative"},
		{"bad mode", with(func(s *Spec) { s.Mounts = []Mount{Tmpfs("/x", os.ModeSymlink|0o755)} }), "has bits other than permissions"},
		{"unknown kind", with(func(s *Spec) { s.Mounts = []Mount{{Kind: "overlay", Target: "/x"}} }), `unknown kind "overlay"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Plan(tc.spec)
			if err == nil {
				t.Fatalf("Plan accepted %+v", tc.spec)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestDefaultEnv(t *testing.T) {
	t.Setenv("MONOGRES_HOST_ONLY", "x")
	got := DefaultEnv(1700000000, "PATH=/opt/bin", "CFLAGS=-O2", "broken")
	want := []string{
		"CFLAGS=-O2",
		"HOME=/build/home",
		"LC_ALL=C",
		"PATH=/opt/bin",
		"SOURCE_DATE_EPOCH=1700000000",
		"TZ=UTC",
		"broken", // left for Plan to reject
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("DefaultEnv (-want +got):\n%s", diff)
	}
	if _, err := Plan(Spec{Root: "/r", Argv: []string{"x"}, Env: got}); err == nil || !strings.Contains(err.Error(), `"broken"`) {
		t.Errorf("Plan with a malformed extra: %v", err)
	}
	if d := DefaultEnv(0); strings.Join(d, " ") != "HOME=/build/home LC_ALL=C PATH="+DefaultPath+" SOURCE_DATE_EPOCH=0 TZ=UTC" {
		t.Errorf("DefaultEnv(0) = %q", d)
	}
}
