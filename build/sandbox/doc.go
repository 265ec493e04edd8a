// Package sandbox runs one command hermetically in fresh Linux namespaces
// (user, mount, pid, network, uts, ipc), using only system calls: no bwrap,
// unshare or other helper programs are needed at run time.
//
// Inside the sandbox the command sees:
//   - "/" = the composed toolchain root [Spec.Root], read-only;
//   - the extra [Spec.Mounts] (for example the source at /build/src, scratch
//     at /build/work and output at /build/out);
//   - a fresh /proc, a minimal /dev (null, zero, full and [u]random bound
//     from the host, /dev/shm, /dev/fd and /dev/std{in,out,err}) and a
//     writable tmpfs at /tmp;
//   - no controlling terminal, in a session of its own: never the caller's
//     terminal, so it cannot type into it (a [Spec.TTY] command gets a
//     pseudo-terminal of its own, relayed by Run);
//   - no host /usr, /etc, /home or /root, no network but its own loopback
//     (unless [Spec.Network]), a fixed hostname, exactly [Spec.Env], umask 022,
//     the requested uid/gid and resource limits.
//
// What happens is computed by [Plan], a pure function, and carried out by
// [Run]. Run re-executes the current binary (/proc/self/exe) in the new
// namespaces; that copy becomes PID 1 of the sandbox, sets up the mounts,
// starts the command and reaps zombies, and exits with the command's status.
// For the re-executed copy to land in the sandbox code, every program that
// calls Run must call [Init] first thing in main, and every test binary that
// calls Run must call it first thing in TestMain:
//
//	func main() {
//		sandbox.Init() // returns at once unless this process is a sandbox init
//		...
//	}
//
//	func TestMain(m *testing.M) {
//		sandbox.Init()
//		os.Exit(m.Run())
//	}
//
// Init is the one place in this package that ends the process: in a sandbox
// init it never returns.
//
// The sandbox is built from user namespaces. It works for root and, where the
// kernel allows unprivileged user namespaces, for ordinary users; when they are
// not available Run returns an error wrapping [ErrUnavailable] that names the
// sysctl to change. It needs Linux 5.12 or newer (open_tree, move_mount,
// mount_setattr, openat2).
//
// The sandbox's root user is the caller's user; a non-zero [Spec.UID] (initdb
// refuses to run as root) is a second, nested user namespace mapping that uid
// onto it, so files the command writes into writable mounts belong to the
// caller on the host. The command always runs in that nested user and mount
// namespace, so even as uid 0 inside it cannot remount the root writable,
// unmount anything or configure the network.
//
// One exception: a root caller that cannot make a pids cgroup runs the
// sandbox as the unprivileged host uid [IsolatedID] over idmapped mounts,
// because the kernel does not apply RLIMIT_NPROC to host root; inside, and
// in the owners of what it writes on the host, nothing changes.
package sandbox
