package sandbox

import (
	"errors"
	"fmt"
	"syscall"
)

// ErrUnavailable is wrapped by the error of Run when the kernel does not let
// this process create the namespaces the sandbox needs.
var ErrUnavailable = errors.New("sandbox: Linux user namespaces are not available")

// unavailableHelp is appended to errors wrapping ErrUnavailable.
const unavailableHelp = `the sandbox needs unprivileged user namespaces (with mount, pid and network namespaces inside them); to allow them:
	sysctl -w user.max_user_namespaces=15000                    # if it is 0
	sysctl -w kernel.unprivileged_userns_clone=1                # Debian/Ubuntu kernels that have it
	sysctl -w kernel.apparmor_restrict_unprivileged_userns=0    # Ubuntu 23.10+ AppArmor restriction
	(or give this program an AppArmor profile with "userns,"); in a container, run it with seccomp and AppArmor allowing unshare/clone of namespaces`

// ExitError reports a sandboxed command that did not exit with status 0.
type ExitError struct {
	// Argv0 is the command as given in Spec.Argv[0].
	Argv0 string
	// Code is the exit status, or 128+signal number when Signal is set
	// (the shell's convention).
	Code int
	// Signal is the signal that killed the command, or 0.
	Signal syscall.Signal
}

func (e *ExitError) Error() string {
	if e.Signal != 0 {
		return fmt.Sprintf("sandboxed command %s killed by signal %d (%v)", e.Argv0, int(e.Signal), e.Signal)
	}
	return fmt.Sprintf("sandboxed command %s exited with status %d", e.Argv0, e.Code)
}

// ExitCode is Code, the status a shell would report.
func (e *ExitError) ExitCode() int { return e.Code }

// LimitError reports a sandboxed command that failed after hitting one of
// its Limits. It unwraps to the *ExitError (or the kill) it explains.
type LimitError struct {
	// Limit names the limit: "processes", "memory", "cpu time",
	// "wall clock" or "tmpfs".
	Limit string
	// Detail says what was hit, for example "tmpfs /tmp (16 MiB) is full".
	Detail string
	Err    error
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("%v: %s limit hit: %s", e.Err, e.Limit, e.Detail)
}

func (e *LimitError) Unwrap() error { return e.Err }

// formatBytes writes n in binary units: "16 MiB", "2 GiB", "1536 KiB".
func formatBytes(n int64) string {
	for _, u := range []struct {
		unit  string
		shift uint
	}{{"GiB", 30}, {"MiB", 20}, {"KiB", 10}} {
		if n >= 1<<u.shift && n%(1<<u.shift) == 0 {
			return fmt.Sprintf("%d %s", n>>u.shift, u.unit)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// SetupError reports a failure of the sandbox init before the command
// started: a missing mount source, a mount target it could not create, a
// command not found in PATH. It names the step that failed.
type SetupError struct {
	Msg string
}

func (e *SetupError) Error() string { return "sandbox setup: " + e.Msg }
