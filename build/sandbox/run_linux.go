//go:build linux

package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"time"
)

const (
	// initEnv marks the re-executed binary as a sandbox init. It is the only
	// variable in the init's environment; the command gets Spec.Env.
	initEnv = "MONOGRES_SANDBOX_INIT"
	// initArg0 is argv[0] of the init, visible as /proc/1/cmdline inside.
	initArg0 = "monogres-sandbox-init"
	// planFD and reportFD are the init's pipes from and to Run: the JSON
	// Setup comes in on planFD, one JSON report goes out on reportFD.
	planFD   = 3
	reportFD = 4
)

// report is what the init tells Run: either why setup failed, or how the
// command ended.
type report struct {
	Error       string `json:"error,omitempty"`
	Unavailable bool   `json:"unavailable,omitempty"`
	Exited      bool   `json:"exited,omitempty"`
	Code        int    `json:"code,omitempty"`
	Signal      int    `json:"signal,omitempty"`
	// FullTmpfs are the sized tmpfs mounts full when the command ended.
	FullTmpfs []string `json:"full_tmpfs,omitempty"`
}

// errWallClock is the cause of a run's context when its wall clock is over.
var errWallClock = errors.New("wall clock limit")

// Run runs spec.Argv in a new sandbox and waits for it. It returns nil when
// the command exits with status 0, an *ExitError for any other status, a
// *SetupError when the sandbox could not be built, an error wrapping
// ErrUnavailable when the kernel refuses the namespaces, and an error wrapping
// the context's error when ctx ends first; then every process of the sandbox
// has been killed (SIGKILL to its PID 1 ends the whole PID namespace).
//
// The program must call Init first thing in main (or TestMain): see the
// package documentation.
func Run(ctx context.Context, spec Spec) error {
	setup, err := Plan(spec)
	if err != nil {
		return err
	}
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("sandbox: %s not started: %w", spec.Argv[0], err)
	}
	limits := setup.Limits
	cg := newCgroup(limits)
	defer cg.remove()
	if cg.memory == "" {
		setup.Rlimits.AS = uint64(limits.Memory)
	}
	uid, gid := os.Geteuid(), os.Getegid()
	// Root without a pids cgroup: RLIMIT_NPROC binds only an unprivileged
	// host uid, so the sandbox runs as IsolatedID over idmapped mounts.
	isolated := cg.pids == "" && needsIsolation()
	var trees []*os.File
	if isolated {
		if trees, err = isolate(&setup, reportFD+1); err != nil {
			return err
		}
		defer func() {
			for _, f := range trees {
				f.Close()
			}
		}()
		cg.isolated = true
	}
	planJSON, err := json.Marshal(setup)
	if err != nil {
		return fmt.Errorf("sandbox: encoding the setup: %w", err)
	}

	planR, planW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer planR.Close()
	defer planW.Close()
	repR, repW, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer repR.Close()
	defer repW.Close()

	stdin, stdout, stderr := spec.Stdin, hideTerminal(spec.Stdout), hideTerminal(spec.Stderr)
	var relay *ttyRelay
	if spec.TTY {
		if relay, err = newTTY(spec.Stdin); err != nil {
			return fmt.Errorf("sandbox: a terminal for %s: %w", spec.Argv[0], err)
		}
		defer relay.ptmx.Close()
		defer relay.tty.Close()
		stdin, stdout, stderr = relay.tty, relay.tty, relay.tty
	} else if _, ok := terminalFile(spec.Stdin); ok {
		return fmt.Errorf("sandbox: %s: Stdin is a terminal, which a sandboxed command never gets: set Spec.TTY to give it a terminal of its own", spec.Argv[0])
	}

	flags := syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID |
		syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC
	if !spec.Network {
		flags |= syscall.CLONE_NEWNET
	}
	runCtx, cancel := context.WithTimeoutCause(ctx, limits.WallClock, errWallClock)
	defer cancel()
	cmd := exec.CommandContext(runCtx, "/proc/self/exe")
	cmd.Args = []string{initArg0}
	cmd.Env = []string{initEnv + "=1"}
	cmd.Dir = "/"
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.ExtraFiles = append([]*os.File{planR, repW}, trees...) // fds 3, 4, then the trees
	cmd.WaitDelay = 5 * time.Second
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  uintptr(flags),
		UidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: uid, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: 0, HostID: gid, Size: 1}},
		// Only a privileged caller may keep setgroups; the init then drops
		// the supplementary groups it inherited.
		GidMappingsEnableSetgroups: uid == 0,
		// A session of its own: the sandbox has no controlling terminal.
		Setsid: true,
		// The sandbox dies with the thread that started it; that thread
		// stays locked to this goroutine until Wait returns.
		Pdeathsig: syscall.SIGKILL,
	}
	if isolated {
		// Uid and gid 0 inside are IsolatedID outside; the init takes
		// them (with no supplementary groups) before it starts.
		cmd.SysProcAttr.UidMappings[0].HostID = IsolatedID
		cmd.SysProcAttr.GidMappings[0].HostID = IsolatedID
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: 0, Gid: 0, Groups: []uint32{}}
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) ||
			errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EUSERS) {
			return fmt.Errorf("%w: starting the sandbox for %s: %v\n%s", ErrUnavailable, spec.Argv[0], err, unavailableHelp)
		}
		return fmt.Errorf("sandbox: starting the sandbox init for %s: %w", spec.Argv[0], err)
	}
	planR.Close()
	repW.Close()
	for _, f := range trees {
		f.Close()
	}
	trees = nil
	// The init waits for its plan, so it starts nothing before it is in
	// its cgroups.
	if err := cg.add(cmd.Process.Pid); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return err
	}
	if relay != nil {
		if err := relay.start(spec.Stdin, spec.Stdout); err != nil {
			_ = cmd.Process.Kill()
		}
		defer relay.stop()
	}
	repCh := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(repR)
		repCh <- b
	}()
	// The plan is far smaller than a pipe buffer; if the init died early the
	// write fails and Wait says why.
	_, _ = planW.Write(planJSON)
	planW.Close()

	werr := cmd.Wait()
	var rep report
	repBytes := <-repCh
	repErr := json.Unmarshal(repBytes, &rep)
	switch {
	case repErr == nil && rep.Exited:
		if rep.Code == 0 && rep.Signal == 0 {
			return nil
		}
		return explain(&ExitError{Argv0: spec.Argv[0], Code: rep.Code, Signal: syscall.Signal(rep.Signal)}, limits, cg, rep.FullTmpfs)
	case ctx.Err() == nil && context.Cause(runCtx) == errWallClock:
		return &LimitError{Limit: "wall clock", Detail: fmt.Sprintf("%v: the sandbox was killed", limits.WallClock),
			Err: fmt.Errorf("sandboxed command %s killed", spec.Argv[0])}
	case context.Cause(ctx) != nil:
		return fmt.Errorf("sandbox: %s killed: %w", spec.Argv[0], context.Cause(ctx))
	case repErr == nil && rep.Error != "":
		if rep.Unavailable {
			return fmt.Errorf("%w: %s\n%s", ErrUnavailable, rep.Error, unavailableHelp)
		}
		return &SetupError{Msg: rep.Error}
	default:
		return fmt.Errorf("sandbox: the sandbox init for %s ended without a report (%v); "+
			"does this program call sandbox.Init first thing in main (or TestMain)?", spec.Argv[0], werr)
	}
}

// explain names the limit a failed command ran into, if any.
func explain(xe *ExitError, l Limits, cg *cgroup, fullTmpfs []string) error {
	forks, oomKills := cg.hits()
	switch {
	case xe.Signal == syscall.SIGXCPU:
		return &LimitError{Limit: "cpu time", Detail: fmt.Sprintf("%v per process (RLIMIT_CPU)", l.CPUTime), Err: xe}
	case oomKills > 0:
		return &LimitError{Limit: "memory", Detail: fmt.Sprintf("%s (%s): the OOM killer ended %d processes", formatBytes(l.Memory), cg.mechanism("memory"), oomKills), Err: xe}
	case forks > 0:
		return &LimitError{Limit: "processes", Detail: fmt.Sprintf("%d processes and threads (%s): %d forks refused", l.Processes, cg.mechanism("pids"), forks), Err: xe}
	case len(fullTmpfs) > 0:
		return &LimitError{Limit: "tmpfs", Detail: "tmpfs " + strings.Join(fullTmpfs, ", tmpfs ") + " is full", Err: xe}
	}
	return xe
}
