package sandbox

import (
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Fixed paths and values inside every sandbox.
const (
	// DefaultHostname is the hostname when Spec.Hostname is empty.
	DefaultHostname = "monogres"
	// DefaultPath is PATH in DefaultEnv.
	DefaultPath = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
	// SrcDir, WorkDir, OutDir and HomeDir are the conventional mount targets
	// of a build (see BuildMounts); HomeDir is HOME in DefaultEnv.
	SrcDir  = "/build/src"
	WorkDir = "/build/work"
	OutDir  = "/build/out"
	HomeDir = "/build/home"
)

// MountKind says what a Mount puts at its target.
type MountKind string

// The kinds of Mount.
const (
	// KindBind makes the host path Source visible at Target (with everything
	// mounted below it), read-only if ReadOnly.
	KindBind MountKind = "bind"
	// KindTmpfs mounts an empty tmpfs at Target (nosuid, nodev).
	KindTmpfs MountKind = "tmpfs"
	// KindProc mounts the sandbox's own /proc at Target.
	KindProc MountKind = "proc"
	// KindDev builds a minimal /dev at Target: null, zero, full, random and
	// urandom bound from the host (and tty with Spec.TTY), a tmpfs at shm,
	// and the symlinks fd, stdin, stdout and stderr (to /proc/self/fd); it
	// is read-only apart from the devices and shm.
	KindDev MountKind = "dev"
)

// Mount is one file system made visible inside the sandbox.
// Plan adds a proc at /proc, a dev at /dev and a tmpfs (mode 1777) at /tmp
// unless Spec.Mounts already has a mount with that target.
type Mount struct {
	Kind MountKind
	// Source is an absolute host path (KindBind only). It may be a directory
	// or a file; symbolic links in it are followed on the host.
	Source string
	// Target is the absolute, clean path inside the sandbox. Missing
	// directories are created, which works where the parent is a tmpfs or a
	// writable mount, or directly below "/"; a target inside a read-only
	// directory of the root must already exist in the root.
	Target string
	// ReadOnly makes a bind or tmpfs read-only.
	ReadOnly bool
	// Size limits a tmpfs, in bytes; 0 is the kernel default (half of RAM).
	Size int64
	// Mode is the permission of a tmpfs's top directory; 0 means 0755.
	// The sticky bit may be given as os.ModeSticky or as 0o1000.
	Mode os.FileMode
}

// BindRO is a read-only bind mount of the host path source at target.
func BindRO(source, target string) Mount {
	return Mount{Kind: KindBind, Source: source, Target: target, ReadOnly: true}
}

// BindRW is a writable bind mount of the host path source at target.
func BindRW(source, target string) Mount {
	return Mount{Kind: KindBind, Source: source, Target: target}
}

// Tmpfs is an empty writable tmpfs at target with the given top directory
// mode (0 means 0755).
func Tmpfs(target string, mode os.FileMode) Mount {
	return Mount{Kind: KindTmpfs, Target: target, Mode: mode}
}

// BuildMounts is the conventional layout of a build: src read-only at
// SrcDir, work and out writable at WorkDir and OutDir, and a tmpfs at HomeDir.
func BuildMounts(src, work, out string) []Mount {
	return []Mount{
		BindRO(src, SrcDir),
		BindRW(work, WorkDir),
		BindRW(out, OutDir),
		Tmpfs(HomeDir, 0o755),
	}
}

// Limits bound a sandbox's resources. A zero field takes its value from
// DefaultLimits (NoFile: the inherited limit), so every sandbox is bounded.
// When one is hit and the command fails, Run returns a *LimitError naming it.
type Limits struct {
	// Processes bounds the processes and threads of the whole sandbox:
	// cgroup pids.max (cgroup v2, or v1's pids hierarchy) where Run can
	// create a cgroup, else RLIMIT_NPROC. The kernel does not apply
	// RLIMIT_NPROC to host root, so a root caller without a pids cgroup
	// runs the sandbox as the unprivileged host uid IsolatedID (see there).
	Processes int64
	// Memory bounds the memory of the whole sandbox in bytes, tmpfs
	// contents included, without swap: cgroup memory.max (v2) or
	// memory.limit_in_bytes (v1); without a memory cgroup, RLIMIT_AS per
	// process.
	Memory int64
	// CPUTime bounds the CPU time of each process (RLIMIT_CPU, rounded up
	// to whole seconds).
	CPUTime time.Duration
	// WallClock bounds the run: the sandbox is killed when it is over.
	WallClock time.Duration
	// Tmpfs is the size in bytes of every tmpfs without a Size of its own
	// (/tmp, /dev/shm, /build/home and the like).
	Tmpfs int64
	// NoFile is RLIMIT_NOFILE, the open files per process.
	NoFile uint64
}

// DefaultLimits are the limits of a sandbox whose Spec leaves them zero:
// room for a parallel Postgres build and its smoke test, not for a fork
// bomb, a memory hog or a disk filler.
var DefaultLimits = Limits{
	Processes: 1024,
	Memory:    8 << 30,
	CPUTime:   2 * time.Hour,
	WallClock: 3 * time.Hour,
	Tmpfs:     2 << 30,
}

// orDefault fills the zero fields of l from DefaultLimits.
func (l Limits) orDefault() Limits {
	d := DefaultLimits
	if l.Processes == 0 {
		l.Processes = d.Processes
	}
	if l.Memory == 0 {
		l.Memory = d.Memory
	}
	if l.CPUTime == 0 {
		l.CPUTime = d.CPUTime
	}
	if l.WallClock == 0 {
		l.WallClock = d.WallClock
	}
	if l.Tmpfs == 0 {
		l.Tmpfs = d.Tmpfs
	}
	if l.NoFile == 0 {
		l.NoFile = d.NoFile
	}
	return l
}

// Spec describes one sandboxed command.
type Spec struct {
	// Root is the host directory holding the toolchain root file system;
	// it is "/" inside, read-only. Its top-level entries are bound one by
	// one onto a read-only tmpfs, so mount targets such as /build/src need
	// not exist in it.
	Root string
	// Mounts are added after the root, parents before children.
	Mounts []Mount
	// Argv is the command; Argv[0] without a slash is looked up in the
	// PATH of Env inside the sandbox.
	Argv []string
	// Env is the complete environment of the command; nothing is
	// inherited from the caller. See DefaultEnv.
	Env []string
	// Dir is the working directory inside the sandbox; empty means "/".
	Dir string
	// Hostname is the host name inside; empty means DefaultHostname.
	Hostname string
	// Network shares the caller's network namespace. When false (the
	// default) the sandbox has a network namespace of its own with only
	// loopback up.
	Network bool
	// UID and GID are the ids of the command inside the sandbox; 0 is the
	// default. Both map to the caller's ids on the host, or to IsolatedID
	// for a root caller without a pids cgroup (files it writes are still
	// the caller's on the host).
	UID, GID int
	// Limits bound the sandbox's resources; zero fields take DefaultLimits.
	Limits Limits
	// Stdin, Stdout and Stderr are the command's standard streams; nil
	// means /dev/null. The command never gets the caller's terminal: it
	// runs in a session of its own with no controlling terminal, a terminal
	// given as Stdout or Stderr reaches it only through a pipe, and a
	// terminal as Stdin needs TTY. So nothing inside can push input into the
	// caller's terminal (TIOCSTI) or change its modes.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// TTY gives the command a pseudo-terminal of its own as stdin, stdout,
	// stderr and controlling terminal (and /dev/tty), for interactive
	// shells. Run relays Stdin to it and its output to Stdout (Stderr is not
	// used); when Stdin is a terminal, Run puts it in raw mode for the run
	// and passes its window size on.
	TTY bool
	// Binfmt are interpreters for foreign programs (qemu-user), registered
	// in the sandbox's own binfmt_misc instance, never the host's (Linux
	// 6.7 or newer; on older kernels Run fails saying so).
	Binfmt []Binfmt
}

// Binfmt is one binfmt_misc registration: programs whose first bytes match
// Magic under Mask run through Interpreter. Magic and Mask are written as
// binfmt_misc takes them (\x escapes). The interpreter is opened when the
// sandbox is set up (flag F), so it needs no libraries at run time.
type Binfmt struct {
	// Name names the registration (letters, digits, '-' and '_').
	Name  string `json:"name"`
	Magic string `json:"magic"`
	Mask  string `json:"mask"`
	// Interpreter is an absolute path inside the sandbox.
	Interpreter string `json:"interpreter"`
}

// QemuAarch64 registers the static qemu-user emulator at interp (a path
// inside the sandbox, for example /usr/bin/qemu-aarch64-static) for arm64
// ELF programs, with the magic and mask Debian's qemu-user-static uses.
func QemuAarch64(interp string) Binfmt {
	return Binfmt{
		Name:        "qemu-aarch64",
		Magic:       `\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00`,
		Mask:        `\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff`,
		Interpreter: interp,
	}
}

// DefaultEnv is the built environment of a build: PATH=DefaultPath,
// HOME=HomeDir, TZ=UTC, LC_ALL=C and SOURCE_DATE_EPOCH. Entries of extra
// ("KEY=value") are added, replacing a default of the same key. The result is
// sorted by key. Nothing comes from the caller's environment.
func DefaultEnv(sourceDateEpoch int64, extra ...string) []string {
	env := map[string]string{
		"HOME":              HomeDir,
		"LC_ALL":            "C",
		"PATH":              DefaultPath,
		"SOURCE_DATE_EPOCH": strconv.FormatInt(sourceDateEpoch, 10),
		"TZ":                "UTC",
	}
	var bad []string
	for _, kv := range extra {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			bad = append(bad, kv) // left for Plan to report
			continue
		}
		env[k] = v
	}
	out := make([]string, 0, len(env)+len(bad))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Slice(out, func(i, j int) bool {
		ki, _, _ := strings.Cut(out[i], "=")
		kj, _, _ := strings.Cut(out[j], "=")
		return ki < kj
	})
	return append(out, bad...)
}
