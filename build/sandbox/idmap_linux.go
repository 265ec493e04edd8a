//go:build linux

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// A root caller without a pids cgroup cannot bound a sandbox's processes as
// itself: the kernel does not apply RLIMIT_NPROC to processes whose real uid
// is host root or that are capable in the initial user namespace. Such a
// sandbox runs as the host uid and gid IsolatedID instead (uid and gid 0 of
// its user namespace, as ever), which has no capability outside, so
// RLIMIT_NPROC applies. IsolatedID owns no file on the host and is never
// written to disk: every host directory and file the sandbox sees (the root,
// every bind) is an idmapped mount on which the host's uid and gid 0 appear
// as IsolatedID, so the sandbox reads and writes exactly what root inside
// could before, and what it creates is owned by root on the host. Nothing of
// the mapping reaches a package or an action key.
//
// IsolatedID is 0x7FFD0000: above systemd's container range
// (524288..1879048191, where systemd-nspawn and Nix's auto-allocated build
// uids live) and the subordinate ids useradd hands out to /etc/subuid
// (100000..600100000 by default), below systemd's foreign range
// (0x7FFE0000..0x7FFEFFFF). Sandboxes may share it: each has user, PID,
// mount and network namespaces of its own, and RLIMIT_NPROC counts a
// sandbox's processes per user namespace.
const IsolatedID = 0x7FFD0000

// initUserNSIno is the inode number of the initial user namespace
// (PROC_USER_INIT_INO in the kernel's proc_ns.h).
const initUserNSIno = 0xEFFFFFFD

// needsIsolation says whether this process is root of the initial user
// namespace, which RLIMIT_NPROC does not bind. Root of a user namespace of
// its own (a rootless container) is an unprivileged host uid already.
func needsIsolation() bool {
	if os.Geteuid() != 0 {
		return false
	}
	var st unix.Stat_t
	return unix.Stat("/proc/self/ns/user", &st) == nil && st.Ino == initUserNSIno
}

// isolatedEnv is initEnv's value for the helper whose user namespace (host
// uid and gid 0 shown as IsolatedID) is the idmapping of the mounts.
const isolatedEnv = "idmap"

var idmapNS struct {
	once sync.Once
	fd   *os.File
	err  error
}

// idmapUserns returns a user namespace mapping uid and gid 0 to IsolatedID,
// made once per process by a helper (this program re-executed; Init parks
// it) that is killed as soon as the namespace is open.
func idmapUserns() (*os.File, error) {
	idmapNS.once.Do(func() {
		cmd := exec.Command("/proc/self/exe")
		cmd.Args = []string{initArg0 + "-idmap"}
		cmd.Env = []string{initEnv + "=" + isolatedEnv}
		cmd.Dir = "/"
		stdin, err := cmd.StdinPipe()
		if err != nil {
			idmapNS.err = err
			return
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{
			Cloneflags:  syscall.CLONE_NEWUSER | syscall.CLONE_NEWPID,
			UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: IsolatedID, Size: 1}},
			GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: IsolatedID, Size: 1}},
			Pdeathsig:   syscall.SIGKILL,
		}
		if err := cmd.Start(); err != nil {
			idmapNS.err = err
			return
		}
		idmapNS.fd, idmapNS.err = os.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid))
		// The namespace lives on with the descriptor. SIGKILL, not EOF on
		// stdin: a program that does not call Init would run its main.
		_ = cmd.Process.Kill()
		stdin.Close()
		_ = cmd.Wait()
	})
	return idmapNS.fd, idmapNS.err
}

// parkIdmapHelper is the helper of idmapUserns: it waits, until killed or
// until stdin closes.
func parkIdmapHelper() int {
	var b [1]byte
	for {
		if _, err := os.Stdin.Read(b[:]); err != nil {
			return 0
		}
	}
}

// isolate opens every host path of s as a detached mount tree, idmapped
// (host 0 shown as IsolatedID) and with its read-only flag applied, and
// records in s the descriptor number each will have in the init: firstFD
// for the first of the returned files, which the caller passes on in that
// order. The init, running as IsolatedID, opens no host path itself.
func isolate(s *Setup, firstFD int) (files []*os.File, err error) {
	userns, err := idmapUserns()
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) ||
			errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EUSERS) {
			return nil, fmt.Errorf("%w: a user namespace for the idmapped mounts of a sandbox (no pids cgroup, so it runs as host uid %d): %v\n%s", ErrUnavailable, IsolatedID, err, unavailableHelp)
		}
		return nil, fmt.Errorf("sandbox: a user namespace for the idmapped mounts of a sandbox (no pids cgroup, so it runs as host uid %d): %w", IsolatedID, err)
	}
	defer func() {
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			files = nil
		}
	}()
	add := func(fd int, name string) int {
		files = append(files, os.NewFile(uintptr(fd), name))
		return firstFD + len(files) - 1
	}
	for i := range s.Ops {
		op := &s.Ops[i]
		switch op.Kind {
		case OpRoot:
			entries, err := isolatedRoot(op.Source, op.Skip, int(userns.Fd()))
			if err != nil {
				return files, err
			}
			for j := range entries {
				if entries[j].fd >= 0 {
					entries[j].FD = add(entries[j].fd, entries[j].Name)
				}
			}
			op.Entries = entries
		case OpBind:
			fd, err := idmappedTree(unix.AT_FDCWD, op.Source, op.ReadOnly, int(userns.Fd()), 0)
			if err != nil {
				return files, &SetupError{Msg: fmt.Sprintf("bind source %s for %s: %v", op.Source, op.Target, err)}
			}
			op.FD = add(fd, op.Source)
		}
	}
	return files, nil
}

// isolatedRoot lists the top-level entries of the root dir (but skip) with
// a read-only idmapped tree for each directory and file.
func isolatedRoot(dir string, skip []string, userns int) ([]RootEntry, error) {
	rootFD, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &SetupError{Msg: fmt.Sprintf("opening root %s: %v", dir, err)}
	}
	defer unix.Close(rootFD)
	dup, err := unix.FcntlInt(uintptr(rootFD), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	d := os.NewFile(uintptr(dup), dir)
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, &SetupError{Msg: fmt.Sprintf("root %s: %v", dir, err)}
	}
	sort.Strings(names)
	var entries []RootEntry
	for _, name := range names {
		if i := sort.SearchStrings(skip, name); i < len(skip) && skip[i] == name {
			continue
		}
		var st unix.Stat_t
		if err := unix.Fstatat(rootFD, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, &SetupError{Msg: fmt.Sprintf("root %s: %v", dir, err)}
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			link, err := readlinkat(rootFD, name)
			if err != nil {
				return nil, err
			}
			entries = append(entries, RootEntry{Name: name, Link: link, fd: -1})
		case unix.S_IFDIR, unix.S_IFREG:
			fd, err := idmappedTree(rootFD, name, true, userns, unix.AT_SYMLINK_NOFOLLOW)
			if err != nil {
				return nil, &SetupError{Msg: fmt.Sprintf("root %s/%s: %v", dir, name, err)}
			}
			entries = append(entries, RootEntry{Name: name, fd: fd})
		}
		// Device nodes, sockets and fifos at the top level are left out.
	}
	return entries, nil
}

// idmappedTree clones the mount tree at dirfd/name, detached, and makes it
// idmapped (read-only if ro). A file system without idmapped mounts gets a
// plain clone when that is harmless: a read-only tree or a file (a device
// node such as /dev/null); a writable directory there is an error, since
// the sandbox could not write it.
func idmappedTree(dirfd int, name string, ro bool, userns int, flags int) (int, error) {
	fd, err := unix.OpenTree(dirfd, name, uint(unix.OPEN_TREE_CLONE|unix.AT_RECURSIVE|unix.O_CLOEXEC|flags))
	if err != nil {
		return -1, err
	}
	attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP, Userns_fd: uint64(userns)}
	if ro {
		attr.Attr_set |= unix.MOUNT_ATTR_RDONLY
	}
	err = unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, attr)
	if err == nil {
		return fd, nil
	}
	var st unix.Stat_t
	if ferr := unix.Fstat(fd, &st); ferr == nil && (ro || st.Mode&unix.S_IFMT != unix.S_IFDIR) {
		plain := &unix.MountAttr{}
		if ro {
			plain.Attr_set = unix.MOUNT_ATTR_RDONLY
		}
		if plain.Attr_set == 0 || unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH|unix.AT_RECURSIVE, plain) == nil {
			return fd, nil
		}
	}
	unix.Close(fd)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.ENOSYS) {
		return -1, fmt.Errorf("an idmapped mount is not possible here (%w): a root caller without a pids cgroup runs the sandbox as host uid %d, which needs idmapped mounts (Linux 5.12+, on ext4, xfs, btrfs, tmpfs and others) to write root's directories; give monogres a pids cgroup (cgroup v2 with the pids controller delegated, or v1's pids hierarchy) or a directory on such a file system", err, IsolatedID)
	}
	return -1, err
}
