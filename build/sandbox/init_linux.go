//go:build linux

package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path"
	"runtime"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// stageDir is where the new root is assembled in the init's private mount
// namespace before pivot_root. Every host path the setup needs is opened
// before anything is mounted there, so hiding it costs nothing.
const stageDir = "/tmp"

// Init turns this process into a sandbox init when Run started it, and never
// returns then: it builds the sandbox, runs the command, reaps orphans as PID
// 1 and exits with the command's status. In any other process it returns at
// once. Call it first thing in main and in TestMain.
func Init() {
	mode := os.Getenv(initEnv)
	if (mode != "1" && mode != isolatedEnv) || os.Getpid() != 1 {
		return
	}
	if mode == isolatedEnv {
		os.Exit(parkIdmapHelper())
	}
	os.Exit(initMain())
}

// errUnavailable marks setup failures that mean the namespaces are unusable.
var errUnavailable = errors.New("namespaces unavailable")

func initMain() int {
	// Setup and the command's fork stay on this thread (Pdeathsig of the
	// command refers to it).
	runtime.LockOSThread()
	syscall.CloseOnExec(planFD)
	syscall.CloseOnExec(reportFD)
	rep := os.NewFile(reportFD, "report")
	send := func(r report) {
		b, _ := json.Marshal(r)
		_, _ = rep.Write(b)
		rep.Close()
	}

	var s Setup
	planFile := os.NewFile(planFD, "plan")
	err := json.NewDecoder(planFile).Decode(&s)
	planFile.Close()
	if err != nil {
		send(report{Error: "reading the setup from Run: " + err.Error()})
		return 125
	}

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP,
		syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH)

	pid, err := start(&s)
	if err != nil {
		send(report{Error: err.Error(), Unavailable: errors.Is(err, errUnavailable)})
		return 125
	}
	go func() {
		for sig := range sigs {
			_ = syscall.Kill(pid, sig.(syscall.Signal))
		}
	}()

	ws, err := reap(pid)
	if err != nil {
		send(report{Error: fmt.Sprintf("waiting for %s: %v", s.Exec.Argv[0], err)})
		return 125
	}
	r := report{Exited: true, Code: ws.ExitStatus(), FullTmpfs: fullTmpfs(s.Ops)}
	if ws.Signaled() {
		r.Signal = int(ws.Signal())
		r.Code = 128 + r.Signal
	}
	send(r)
	return r.Code
}

// fullTmpfs lists the sized tmpfs mounts that are (nearly) full, as
// "/tmp (16 MiB)".
func fullTmpfs(ops []Op) []string {
	var full []string
	for _, op := range ops {
		if op.Kind != OpTmpfs || op.Size <= 0 || op.Size == devSize {
			continue
		}
		var st unix.Statfs_t
		if unix.Statfs(op.Target, &st) != nil {
			continue
		}
		if free := int64(st.Bavail) * st.Bsize; free < op.Size/100 || free < 64<<10 {
			full = append(full, fmt.Sprintf("%s (%s)", op.Target, formatBytes(op.Size)))
		}
	}
	return full
}

// reap waits for every child (orphans are re-parented to PID 1) until pid
// ends, and returns pid's status. Whatever still runs then is killed by the
// kernel when PID 1 exits.
func reap(pid int) (syscall.WaitStatus, error) {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		if got == pid {
			return ws, nil
		}
	}
}

// start builds the sandbox described by s and starts its command.
func start(s *Setup) (int, error) {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return 0, fmt.Errorf("%w: making the mount namespace private: %v", errUnavailable, err)
	}

	// Open every host path first (the root directory, bind sources as
	// detached mount clones), so nothing mounted later can hide them.
	fds := make([]int, len(s.Ops))
	for i := range fds {
		fds[i] = -1
	}
	defer func() {
		for _, fd := range fds {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	// Trees Run opened are inherited without close-on-exec; the command
	// must not get them.
	for _, op := range s.Ops {
		if op.FD > 0 {
			syscall.CloseOnExec(op.FD)
		}
		for _, e := range op.Entries {
			if e.FD > 0 {
				syscall.CloseOnExec(e.FD)
			}
		}
	}
	defer func() {
		for _, op := range s.Ops {
			for _, e := range op.Entries {
				if e.FD > 0 {
					unix.Close(e.FD)
				}
			}
		}
	}()
	for i, op := range s.Ops {
		var err error
		switch {
		case op.FD > 0:
			fds[i] = op.FD
		case op.Kind == OpRoot && op.Entries != nil:
			// Opened by Run (fillRoot uses op.Entries).
		case op.Kind == OpRoot:
			fds[i], err = unix.Open(op.Source, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
			if err != nil {
				return 0, fmt.Errorf("opening root %s: %w", op.Source, err)
			}
		case op.Kind == OpBind:
			fds[i], err = unix.OpenTree(unix.AT_FDCWD, op.Source, unix.OPEN_TREE_CLONE|unix.AT_RECURSIVE|unix.O_CLOEXEC)
			if err != nil {
				return 0, fmt.Errorf("bind source %s for %s: %w", op.Source, op.Target, err)
			}
		}
	}

	if err := unix.Mount("tmpfs", stageDir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return 0, fmt.Errorf("mounting the new root (tmpfs on %s): %w", stageDir, err)
	}
	stage, err := unix.Open(stageDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("opening the new root: %w", err)
	}
	defer unix.Close(stage)
	for i, op := range s.Ops {
		if err := apply(stage, op, fds[i]); err != nil {
			if op.Kind == OpRoot {
				return 0, fmt.Errorf("root %s: %w", op.Source, err)
			}
			if op.Source != "" {
				return 0, fmt.Errorf("%s %s at %s: %w", op.Kind, op.Source, op.Target, err)
			}
			return 0, fmt.Errorf("%s at %s: %w", op.Kind, op.Target, err)
		}
	}

	if err := unix.Sethostname([]byte(s.Hostname)); err != nil {
		return 0, fmt.Errorf("setting hostname %q: %w", s.Hostname, err)
	}
	if !s.Network {
		if err := loopbackUp(); err != nil {
			return 0, fmt.Errorf("bringing up loopback: %w", err)
		}
	}

	if err := unix.Fchdir(stage); err != nil {
		return 0, fmt.Errorf("entering the new root: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return 0, fmt.Errorf("pivot_root into the new root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return 0, fmt.Errorf("detaching the host root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return 0, fmt.Errorf("chdir /: %w", err)
	}
	if err := registerBinfmt(s.Binfmt); err != nil {
		return 0, err
	}

	// Drop inherited supplementary groups where setgroups is allowed (a
	// root caller); otherwise they show up as nobody and grant nothing new.
	if err := syscall.Setgroups([]int{}); err != nil && err != syscall.EPERM {
		return 0, fmt.Errorf("dropping supplementary groups: %w", err)
	}
	if err := setLimits(s.Rlimits); err != nil {
		return 0, err
	}
	syscall.Umask(s.Umask)

	argv0, err := lookPath(s.Exec.Argv[0], s.Exec.Env)
	if err != nil {
		return 0, err
	}
	// The command gets a user and mount namespace of its own: its uid/gid
	// map onto the init's root, and every mount it sees is locked, so even
	// a root command can neither remount nor unmount anything.
	pid, err := syscall.ForkExec(argv0, s.Exec.Argv, &syscall.ProcAttr{
		Dir:   s.Exec.Dir,
		Env:   s.Exec.Env,
		Files: []uintptr{0, 1, 2},
		Sys: &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: s.UID, HostID: 0, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: s.GID, HostID: 0, Size: 1}},
			Pdeathsig:   syscall.SIGKILL,
			// A session of its own; with a TTY, the terminal on fd 0 (the
			// sandbox's own pseudo-terminal) is its controlling terminal.
			Setsid:  true,
			Setctty: s.TTY,
			Ctty:    0,
		},
	})
	if err != nil {
		return 0, fmt.Errorf("starting %s (as %s, uid %d, in %s): %w", s.Exec.Argv[0], argv0, s.UID, s.Exec.Dir, err)
	}
	return pid, nil
}

// apply carries out one Op inside the new root stage; src is the fd opened
// for it beforehand (or -1).
func apply(stage int, op Op, src int) error {
	switch op.Kind {
	case OpRoot:
		if op.Entries != nil {
			return fillRootFrom(stage, op.Entries)
		}
		return fillRoot(stage, src, op.Skip)
	case OpBind:
		var st unix.Stat_t
		if err := unix.Fstat(src, &st); err != nil {
			return err
		}
		target, err := makeTarget(stage, op.Target, st.Mode&unix.S_IFMT == unix.S_IFDIR)
		if err != nil {
			return err
		}
		defer unix.Close(target)
		if op.ReadOnly && op.FD == 0 {
			if err := setReadOnly(src, true); err != nil {
				return err
			}
		}
		return moveMount(src, target)
	case OpTmpfs, OpProc:
		target, err := makeTarget(stage, op.Target, true)
		if err != nil {
			return err
		}
		defer unix.Close(target)
		at := fmt.Sprintf("/proc/self/fd/%d", target)
		if op.Kind == OpProc {
			return unix.Mount("proc", at, "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
		}
		data := fmt.Sprintf("mode=%o", op.Mode)
		if op.Size > 0 {
			data += fmt.Sprintf(",size=%d", op.Size)
		}
		return unix.Mount("tmpfs", at, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data)
	case OpSymlink:
		rel := strings.TrimPrefix(op.Target, "/")
		if err := mkdirAll(stage, path.Dir(rel)); err != nil {
			return err
		}
		dir, err := openIn(stage, path.Dir(rel), unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return err
		}
		defer unix.Close(dir)
		return unix.Symlinkat(op.Link, dir, path.Base(rel))
	case OpReadOnly:
		fd, err := openIn(stage, strings.TrimPrefix(op.Target, "/"), unix.O_PATH)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		return setReadOnly(fd, false)
	}
	return fmt.Errorf("unknown operation %q", op.Kind)
}

// fillRoot binds each top-level directory and file of the root directory
// rootFD read-only onto the stage and copies its symlinks.
func fillRoot(stage, rootFD int, skip []string) error {
	dup, err := unix.FcntlInt(uintptr(rootFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return err
	}
	dir := os.NewFile(uintptr(dup), "root")
	entries, err := dir.ReadDir(-1)
	dir.Close()
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		name := e.Name()
		if i := sort.SearchStrings(skip, name); i < len(skip) && skip[i] == name {
			continue
		}
		switch {
		case e.Type()&os.ModeSymlink != 0:
			link, err := readlinkat(rootFD, name)
			if err != nil {
				return err
			}
			if err := unix.Symlinkat(link, stage, name); err != nil {
				return fmt.Errorf("symlink /%s: %w", name, err)
			}
		case e.IsDir() || e.Type().IsRegular():
			if e.IsDir() {
				err = unix.Mkdirat(stage, name, 0o755)
			} else {
				var fd int
				fd, err = unix.Openat(stage, name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
				if err == nil {
					unix.Close(fd)
				}
			}
			if err != nil {
				return fmt.Errorf("mount point /%s: %w", name, err)
			}
			tree, err := unix.OpenTree(rootFD, name, unix.OPEN_TREE_CLONE|unix.AT_RECURSIVE|unix.AT_SYMLINK_NOFOLLOW|unix.O_CLOEXEC)
			if err != nil {
				return fmt.Errorf("/%s: %w", name, err)
			}
			err = setReadOnly(tree, true)
			if err == nil {
				err = unix.MoveMount(tree, "", stage, name, unix.MOVE_MOUNT_F_EMPTY_PATH)
			}
			unix.Close(tree)
			if err != nil {
				return fmt.Errorf("/%s: %w", name, err)
			}
		}
		// Device nodes, sockets and fifos at the top level are left out.
	}
	return nil
}

// fillRootFrom puts the root's top-level entries Run opened (see
// IsolatedID) onto the stage: each tree, already read-only, is moved there
// and each symlink created.
func fillRootFrom(stage int, entries []RootEntry) error {
	for _, e := range entries {
		if e.FD <= 0 {
			if err := unix.Symlinkat(e.Link, stage, e.Name); err != nil {
				return fmt.Errorf("symlink /%s: %w", e.Name, err)
			}
			continue
		}
		var st unix.Stat_t
		err := unix.Fstat(e.FD, &st)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			err = unix.Mkdirat(stage, e.Name, 0o755)
		} else if err == nil {
			var fd int
			fd, err = unix.Openat(stage, e.Name, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
			if err == nil {
				unix.Close(fd)
			}
		}
		if err != nil {
			return fmt.Errorf("mount point /%s: %w", e.Name, err)
		}
		if err := unix.MoveMount(e.FD, "", stage, e.Name, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
			return fmt.Errorf("/%s: %w", e.Name, err)
		}
	}
	return nil
}

// openIn opens rel (relative to the new root) without ever leaving it:
// symlinks, absolute or not, resolve inside the new root.
func openIn(stage int, rel string, flags int) (int, error) {
	if rel == "" {
		rel = "."
	}
	return unix.Openat2(stage, rel, &unix.OpenHow{
		Flags:   uint64(flags | unix.O_CLOEXEC),
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
}

// mkdirAll creates the directory rel and its parents inside the new root.
func mkdirAll(stage int, rel string) error {
	if rel == "." || rel == "" {
		return nil
	}
	parts := strings.Split(rel, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		fd, err := openIn(stage, prefix, unix.O_PATH|unix.O_DIRECTORY)
		if err == nil {
			unix.Close(fd)
			continue
		}
		if err != unix.ENOENT {
			return fmt.Errorf("/%s: %w", prefix, err)
		}
		parent, err := openIn(stage, path.Dir(prefix), unix.O_PATH|unix.O_DIRECTORY)
		if err != nil {
			return fmt.Errorf("/%s: %w", path.Dir(prefix), err)
		}
		err = unix.Mkdirat(parent, parts[i], 0o755)
		unix.Close(parent)
		if err != nil && err != unix.EEXIST {
			return createErr("/"+prefix, err)
		}
	}
	return nil
}

// makeTarget makes sure the mount point target (a directory if dir, else a
// file) exists in the new root, and opens it.
func makeTarget(stage int, target string, dir bool) (int, error) {
	rel := strings.TrimPrefix(target, "/")
	if fd, err := openIn(stage, rel, unix.O_PATH); err == nil {
		return fd, nil
	}
	if err := mkdirAll(stage, path.Dir(rel)); err != nil {
		return -1, err
	}
	parent, err := openIn(stage, path.Dir(rel), unix.O_PATH|unix.O_DIRECTORY)
	if err != nil {
		return -1, err
	}
	defer unix.Close(parent)
	if dir {
		err = unix.Mkdirat(parent, path.Base(rel), 0o755)
	} else {
		var fd int
		fd, err = unix.Openat(parent, path.Base(rel), unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o644)
		if err == nil {
			unix.Close(fd)
		}
	}
	if err != nil && err != unix.EEXIST {
		return -1, createErr(target, err)
	}
	return openIn(stage, rel, unix.O_PATH)
}

func createErr(p string, err error) error {
	if err == unix.EROFS {
		return fmt.Errorf("cannot create mount point %s: it would be inside a read-only directory (of the root or a read-only mount); create it in the root file system: %w", p, err)
	}
	return fmt.Errorf("creating mount point %s: %w", p, err)
}

// moveMount attaches the detached mount tree onto target.
func moveMount(tree, target int) error {
	return unix.MoveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH)
}

// setReadOnly makes the mount fd refers to read-only, with everything below
// it if recursive. mount_setattr only adds the flag, so flags the kernel
// locked in a user namespace (nosuid, nodev, ...) are kept.
func setReadOnly(fd int, recursive bool) error {
	flags := uint(unix.AT_EMPTY_PATH)
	if recursive {
		flags |= unix.AT_RECURSIVE
	}
	if err := unix.MountSetattr(fd, "", flags, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
		return fmt.Errorf("making read-only: %w", err)
	}
	return nil
}

func readlinkat(dir int, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(dir, name, buf)
		if err != nil {
			return "", fmt.Errorf("readlink /%s: %w", name, err)
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// loopbackUp sets IFF_UP on lo in the sandbox's network namespace; the
// kernel then gives it 127.0.0.1 and ::1.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP | unix.IFF_RUNNING)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// binfmtDir is where the sandbox's own binfmt_misc instance is mounted.
const binfmtDir = "/proc/sys/fs/binfmt_misc"

// registerBinfmt mounts a binfmt_misc instance of the sandbox's own user
// namespace (Linux 6.7+) and registers each entry with flag F, opening its
// interpreter now. The command's nested namespace uses that instance, and
// the host's is never consulted once it exists, so the host's
// registrations cannot change what runs inside either. Without entries an
// old kernel's refusal is ignored.
func registerBinfmt(entries []Binfmt) error {
	if err := unix.Mount("binfmt_misc", binfmtDir, "binfmt_misc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		if len(entries) == 0 {
			return nil
		}
		var uts unix.Utsname
		_ = unix.Uname(&uts)
		return fmt.Errorf("mounting the sandbox's own binfmt_misc at %s to run %s through %s: %w: this kernel (%s) has no binfmt_misc instance per user namespace (Linux 6.7 or newer has); monogres never registers emulators host-wide, so foreign programs cannot run here",
			binfmtDir, entries[0].Name, entries[0].Interpreter, err, unix.ByteSliceToString(uts.Release[:]))
	}
	for _, b := range entries {
		reg := fmt.Sprintf(":%s:M::%s:%s:%s:F", b.Name, b.Magic, b.Mask, b.Interpreter)
		if err := os.WriteFile(binfmtDir+"/register", []byte(reg), 0); err != nil {
			return fmt.Errorf("registering %s (interpreter %s) in the sandbox's binfmt_misc: %w", b.Name, b.Interpreter, err)
		}
	}
	return nil
}

// setLimits applies the non-zero rlimits to the init, and so to everything
// it starts.
func setLimits(l Rlimits) error {
	for _, lim := range []struct {
		name     string
		resource int
		value    uint64
	}{
		{"RLIMIT_NOFILE", unix.RLIMIT_NOFILE, l.NoFile},
		{"RLIMIT_NPROC", unix.RLIMIT_NPROC, l.NProc},
		{"RLIMIT_AS", unix.RLIMIT_AS, l.AS},
		{"RLIMIT_CPU", unix.RLIMIT_CPU, l.CPU},
	} {
		if lim.value == 0 {
			continue
		}
		var old syscall.Rlimit
		_ = syscall.Getrlimit(lim.resource, &old)
		// A limit above the inherited hard limit cannot be had; the
		// tighter one stays.
		value := min(lim.value, old.Max)
		hard := value
		if lim.resource == unix.RLIMIT_CPU {
			// SIGXCPU at the soft limit says why; SIGKILL 5 s later if
			// that is ignored.
			hard = min(value+5, old.Max)
		}
		// syscall.Setrlimit also tells os/exec not to restore its saved
		// RLIMIT_NOFILE in children.
		if err := syscall.Setrlimit(lim.resource, &syscall.Rlimit{Cur: value, Max: hard}); err != nil {
			return fmt.Errorf("setting %s to %d (inherited hard limit %d): %w", lim.name, value, old.Max, err)
		}
	}
	return nil
}

// lookPath finds name in the PATH of env inside the sandbox, as execvp does.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	pathVar := ""
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathVar = v
		}
	}
	for _, dir := range strings.Split(pathVar, ":") {
		if dir == "" {
			continue
		}
		p := path.Join(dir, name)
		var st unix.Stat_t
		if unix.Stat(p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFREG && st.Mode&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("command %q not found in the sandbox's PATH %q", name, pathVar)
}
