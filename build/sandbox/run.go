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

// SetupError reports a failure of the sandbox init before the command
// started: a missing mount source, a mount target it could not create, a
// command not found in PATH. It names the step that failed.
type SetupError struct {
	Msg string
}

func (e *SetupError) Error() string { return "sandbox setup: " + e.Msg }
