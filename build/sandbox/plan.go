package sandbox

import (
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// OpKind is one kind of step of a Setup.
type OpKind string

// The kinds of Op, in the terms of the system calls the sandbox init makes.
const (
	// OpRoot fills the new root (a tmpfs) from the host directory Source:
	// each top-level directory and file is bound read-only (recursively),
	// each symlink copied; names in Skip are left out because a later Op
	// mounts there.
	OpRoot OpKind = "root"
	// OpBind binds the host path Source at Target, read-only if ReadOnly.
	OpBind OpKind = "bind"
	// OpTmpfs mounts a tmpfs with Mode and Size at Target.
	OpTmpfs OpKind = "tmpfs"
	// OpProc mounts a proc file system at Target.
	OpProc OpKind = "proc"
	// OpSymlink creates a symlink at Target pointing to Link.
	OpSymlink OpKind = "symlink"
	// OpReadOnly makes the mount at Target read-only (not its children).
	OpReadOnly OpKind = "readonly"
)

// Op is one step of building the sandbox's file system. Targets are paths
// inside the sandbox; they are resolved inside the new root, never through
// symlinks to the host.
type Op struct {
	Kind     OpKind   `json:"kind"`
	Source   string   `json:"source,omitempty"`
	Target   string   `json:"target,omitempty"`
	ReadOnly bool     `json:"readonly,omitempty"`
	Mode     uint32   `json:"mode,omitempty"`
	Size     int64    `json:"size,omitempty"`
	Link     string   `json:"link,omitempty"`
	Skip     []string `json:"skip,omitempty"`
	// FD, when set by Run, is a detached mount tree of Source (OpBind)
	// that Run opened and passed to the init as this descriptor, with
	// ReadOnly already applied; the init opens no host path for it.
	FD int `json:"fd,omitempty"`
	// Entries, when set by Run, are the top-level entries of the root
	// (OpRoot, Skip left out), opened by Run: the init then reads no host
	// directory. See IsolatedID.
	Entries []RootEntry `json:"entries,omitempty"`
}

// RootEntry is one top-level entry of the root: a symlink to Link, or a
// read-only mount tree (a directory or a file) passed as descriptor FD.
type RootEntry struct {
	Name string `json:"name"`
	Link string `json:"link,omitempty"`
	FD   int    `json:"fd,omitempty"`
	fd   int    // Run's descriptor, or -1
}

// Exec is the command the sandbox init starts once the file system is built.
type Exec struct {
	Argv []string `json:"argv"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir"`
}

// Setup is everything the sandbox init does, in order: Ops, then the host
// name and loopback, pivot into the new root, then Binfmt, UID/GID,
// Rlimits, Umask and Exec. It is plain data; Plan computes it and Run
// carries it out (Run puts the sandbox into its cgroups and keeps the wall
// clock).
//
// Limits are the spec's limits with the defaults filled in; the tmpfs
// size is already in Ops.
type Setup struct {
	Ops      []Op   `json:"ops"`
	Hostname string `json:"hostname"`
	// Network true means the caller's network namespace is shared.
	Network bool    `json:"network"`
	UID     int     `json:"uid"`
	GID     int     `json:"gid"`
	Limits  Limits  `json:"limits"`
	Rlimits Rlimits `json:"rlimits"`
	Umask   int     `json:"umask"`
	// TTY means stdin, stdout and stderr are a pseudo-terminal that
	// becomes the command's controlling terminal.
	TTY bool `json:"tty,omitempty"`
	// Binfmt are registered in a binfmt_misc instance of the sandbox's
	// own, mounted at /proc/sys/fs/binfmt_misc after the pivot.
	Binfmt []Binfmt `json:"binfmt,omitempty"`
	Exec   Exec     `json:"exec"`
}

// Rlimits are the setrlimit values (soft and hard) the init gives itself,
// and so everything it starts; 0 keeps the inherited value.
type Rlimits struct {
	NoFile uint64 `json:"nofile,omitempty"`
	NProc  uint64 `json:"nproc,omitempty"`
	AS     uint64 `json:"as,omitempty"`
	CPU    uint64 `json:"cpu,omitempty"`
}

// devNodes are the host device nodes bound into a KindDev mount; with
// Spec.TTY /dev/tty is added (it opens the caller's own controlling
// terminal, so only a command with a terminal of its own may have it).
var devNodes = [...]string{"null", "zero", "full", "random", "urandom"}

// devSize is the size of /dev's own tmpfs, which holds only mount points
// and symlinks and is read-only.
const devSize = 1 << 20

// maxID is the largest uid or gid accepted inside (65534 is "nobody", the
// overflow id of unmapped users).
const maxID = 65533

// Plan validates spec and computes what the sandbox init will do. It touches
// nothing: no file is read and no system call made.
func Plan(spec Spec) (Setup, error) {
	if err := checkSpec(spec); err != nil {
		return Setup{}, err
	}
	limits := spec.Limits.orDefault()
	mounts, err := allMounts(spec.Mounts)
	if err != nil {
		return Setup{}, err
	}

	var skip []string
	for _, m := range mounts {
		if top := strings.TrimPrefix(m.Target, "/"); !strings.Contains(top, "/") {
			skip = append(skip, top)
		}
	}
	sort.Strings(skip)
	ops := []Op{{Kind: OpRoot, Source: path.Clean(spec.Root), Skip: skip}}
	var readOnly []Op // applied last, after everything below them exists
	for _, m := range mounts {
		switch m.Kind {
		case KindBind:
			ops = append(ops, Op{Kind: OpBind, Source: path.Clean(m.Source), Target: m.Target, ReadOnly: m.ReadOnly})
		case KindTmpfs:
			size := m.Size
			if size == 0 {
				size = limits.Tmpfs
			}
			ops = append(ops, Op{Kind: OpTmpfs, Target: m.Target, Mode: tmpfsMode(m), Size: size})
			if m.ReadOnly {
				readOnly = append(readOnly, Op{Kind: OpReadOnly, Target: m.Target})
			}
		case KindProc:
			ops = append(ops, Op{Kind: OpProc, Target: m.Target})
		case KindDev:
			ops = append(ops, devOps(m.Target, spec.TTY, limits.Tmpfs)...)
			readOnly = append(readOnly, Op{Kind: OpReadOnly, Target: m.Target})
		}
	}
	// Read-only ops run deepest first so a parent turns read-only only after
	// its children are done.
	sort.SliceStable(readOnly, func(i, j int) bool { return depth(readOnly[i].Target) > depth(readOnly[j].Target) })
	ops = append(ops, readOnly...)
	ops = append(ops, Op{Kind: OpReadOnly, Target: "/"})

	hostname := spec.Hostname
	if hostname == "" {
		hostname = DefaultHostname
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	return Setup{
		Ops:      ops,
		Hostname: hostname,
		Network:  spec.Network,
		UID:      spec.UID,
		GID:      spec.GID,
		Limits:   limits,
		Rlimits: Rlimits{
			NoFile: limits.NoFile,
			NProc:  uint64(limits.Processes),
			CPU:    uint64((limits.CPUTime + time.Second - 1) / time.Second),
		},
		Umask:  0o022,
		TTY:    spec.TTY,
		Binfmt: append([]Binfmt(nil), spec.Binfmt...),
		Exec: Exec{
			Argv: append([]string(nil), spec.Argv...),
			Env:  append([]string{}, spec.Env...),
			Dir:  path.Clean(dir),
		},
	}, nil
}

func checkSpec(spec Spec) error {
	if spec.Root == "" {
		return fmt.Errorf("sandbox spec: Root is empty: it must be the host directory of the root file system")
	}
	if !path.IsAbs(spec.Root) {
		return fmt.Errorf("sandbox spec: Root %q is not an absolute path", spec.Root)
	}
	if len(spec.Argv) == 0 || spec.Argv[0] == "" {
		return fmt.Errorf("sandbox spec: Argv is empty: nothing to run")
	}
	for i, kv := range spec.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			return fmt.Errorf("sandbox spec: Env[%d] %q is not KEY=value", i, kv)
		}
		if strings.ContainsRune(kv, 0) {
			return fmt.Errorf("sandbox spec: Env[%d] %q contains a NUL byte", i, kv)
		}
	}
	if spec.Dir != "" && !path.IsAbs(spec.Dir) {
		return fmt.Errorf("sandbox spec: Dir %q is not an absolute path inside the sandbox", spec.Dir)
	}
	if len(spec.Hostname) > 64 || strings.ContainsAny(spec.Hostname, "\x00/ ") {
		return fmt.Errorf("sandbox spec: Hostname %q is not a valid host name (at most 64 bytes, no NUL, slash or space)", spec.Hostname)
	}
	if spec.UID < 0 || spec.UID > maxID {
		return fmt.Errorf("sandbox spec: UID %d is outside 0..%d", spec.UID, maxID)
	}
	if spec.GID < 0 || spec.GID > maxID {
		return fmt.Errorf("sandbox spec: GID %d is outside 0..%d", spec.GID, maxID)
	}
	for i, b := range spec.Binfmt {
		where := fmt.Sprintf("sandbox spec: Binfmt[%d] %q", i, b.Name)
		switch {
		case b.Name == "" || strings.Trim(b.Name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "":
			return fmt.Errorf("%s: name must be letters, digits, '-' and '_'", where)
		case b.Magic == "":
			return fmt.Errorf("%s: magic is empty", where)
		case !path.IsAbs(b.Interpreter):
			return fmt.Errorf("%s: interpreter %q is not an absolute path inside the sandbox", where, b.Interpreter)
		case strings.ContainsAny(b.Magic+b.Mask+b.Interpreter, ":\n\x00"):
			return fmt.Errorf("%s: magic, mask and interpreter may not contain ':', newline or NUL", where)
		}
	}
	l := spec.Limits
	for _, f := range []struct {
		name     string
		negative bool
	}{
		{"Processes", l.Processes < 0}, {"Memory", l.Memory < 0}, {"CPUTime", l.CPUTime < 0},
		{"WallClock", l.WallClock < 0}, {"Tmpfs", l.Tmpfs < 0},
	} {
		if f.negative {
			return fmt.Errorf("sandbox spec: Limits.%s is negative", f.name)
		}
	}
	return nil
}

// allMounts checks the caller's mounts, adds the default /proc, /dev and
// /tmp where the caller has none, and orders parents before children
// (otherwise keeping the caller's order).
func allMounts(user []Mount) ([]Mount, error) {
	seen := map[string]int{}
	for i, m := range user {
		where := fmt.Sprintf("sandbox spec: Mounts[%d] (target %q)", i, m.Target)
		if m.Target == "" || !path.IsAbs(m.Target) || path.Clean(m.Target) != m.Target {
			return nil, fmt.Errorf("%s: target must be an absolute, clean path", where)
		}
		if m.Target == "/" {
			return nil, fmt.Errorf("%s: cannot mount over /; the root is Spec.Root", where)
		}
		if j, ok := seen[m.Target]; ok {
			return nil, fmt.Errorf("%s: same target as Mounts[%d]", where, j)
		}
		seen[m.Target] = i
		switch m.Kind {
		case KindBind:
			if m.Source == "" || !path.IsAbs(m.Source) {
				return nil, fmt.Errorf("%s: bind source %q is not an absolute host path", where, m.Source)
			}
		case KindTmpfs:
			if m.Size < 0 {
				return nil, fmt.Errorf("%s: tmpfs size %d is negative", where, m.Size)
			}
			if m.Mode&^(0o7777|os.ModeSticky|os.ModeSetuid|os.ModeSetgid|os.ModeDir) != 0 {
				return nil, fmt.Errorf("%s: tmpfs mode %v has bits other than permissions", where, m.Mode)
			}
		case KindProc, KindDev:
		default:
			return nil, fmt.Errorf("%s: unknown kind %q (want bind, tmpfs, proc or dev)", where, m.Kind)
		}
		if m.Kind != KindBind && m.Source != "" {
			return nil, fmt.Errorf("%s: a %s mount takes no source (got %q)", where, m.Kind, m.Source)
		}
	}
	var all []Mount
	for _, d := range []Mount{
		{Kind: KindProc, Target: "/proc"},
		{Kind: KindDev, Target: "/dev"},
		{Kind: KindTmpfs, Target: "/tmp", Mode: 0o1777},
	} {
		if _, ok := seen[d.Target]; !ok {
			all = append(all, d)
		}
	}
	all = append(all, user...)
	sort.SliceStable(all, func(i, j int) bool { return depth(all[i].Target) < depth(all[j].Target) })
	return all, nil
}

// devOps builds /dev; shm is a tmpfs of shmSize bytes.
func devOps(dev string, tty bool, shmSize int64) []Op {
	ops := []Op{{Kind: OpTmpfs, Target: dev, Mode: 0o755, Size: devSize}}
	nodes := devNodes[:]
	if tty {
		nodes = append(nodes, "tty")
	}
	for _, n := range nodes {
		ops = append(ops, Op{Kind: OpBind, Source: "/dev/" + n, Target: path.Join(dev, n)})
	}
	ops = append(ops, Op{Kind: OpTmpfs, Target: path.Join(dev, "shm"), Mode: 0o1777, Size: shmSize})
	for _, l := range [...][2]string{
		{"fd", "/proc/self/fd"},
		{"stdin", "/proc/self/fd/0"},
		{"stdout", "/proc/self/fd/1"},
		{"stderr", "/proc/self/fd/2"},
	} {
		ops = append(ops, Op{Kind: OpSymlink, Target: path.Join(dev, l[0]), Link: l[1]})
	}
	return ops
}

// tmpfsMode is the tmpfs "mode=" value: permission bits plus the sticky,
// setgid and setuid bits given either as os.Mode* flags or as raw 0o7000.
func tmpfsMode(m Mount) uint32 {
	if m.Mode == 0 {
		return 0o755
	}
	mode := uint32(m.Mode.Perm()) | uint32(m.Mode&0o7000)
	if m.Mode&os.ModeSticky != 0 {
		mode |= 0o1000
	}
	if m.Mode&os.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m.Mode&os.ModeSetuid != 0 {
		mode |= 0o4000
	}
	return mode
}

func depth(p string) int {
	if p == "/" {
		return 0
	}
	return strings.Count(p, "/")
}
