package cli

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/charmbracelet/x/term"

	"github.com/monogres/monogres/build/sandbox"
	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

func runToolchain(e *env, args []string) error {
	if len(args) == 0 || args[0] != "shell" {
		return usageError{"usage: monogres toolchain shell [--arch amd64|arm64] [--src DIR] [-- CMD...]"}
	}
	fl := flags("toolchain shell", e.stderr)
	arch := fl.String("arch", "amd64", "the target whose root to enter (arm64: the cross root)")
	src := fl.String("src", "", "a host directory to mount writable at /build/src")
	network := fl.Bool("network", false, "keep the host network (builds never get it)")
	argv, err := parse(fl, args[1:])
	if err != nil {
		return err
	}
	if len(argv) == 0 {
		argv = []string{"/bin/bash", "-i"}
	}
	m, l, err := e.loadLocked()
	if err != nil {
		return err
	}
	st, err := app.OpenStore()
	if err != nil {
		return err
	}
	// The root of the target's cells with every option: base plus every
	// option layer.
	cell := toolchains.Cell{Target: *arch}
	for _, o := range manifest.Options {
		cell.Options = append(cell.Options, string(o))
	}
	roots := toolchains.FromLock(l)
	req, err := roots.Request(cell)
	if err != nil {
		return fmt.Errorf("%s: %w", e.lockPath, err)
	}
	var inputs []lock.Input
	for _, p := range req.Packages {
		inputs = append(inputs, p.Input())
	}
	f, err := app.Fetcher(m, st, 8, false, e.sink(false))
	if err != nil {
		return err
	}
	if err := f.Fetch(e.ctx, inputs); err != nil {
		return err
	}
	root, err := app.ComposeRoot(st, roots)(e.ctx, cell)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "toolchain root %s (digest %s)\n", root.Dir, short(root.Digest))
	mounts := []sandbox.Mount{sandbox.Tmpfs(sandbox.HomeDir, 0o755), sandbox.Tmpfs(sandbox.WorkDir, 0o755)}
	if *src != "" {
		mounts = append(mounts, sandbox.BindRW(*src, sandbox.SrcDir))
	}
	limits := app.SandboxLimits(m.Limits)
	if limits.WallClock == 0 {
		limits.WallClock = 24 * time.Hour // an interactive session, not a build action
	}
	spec := sandbox.Spec{
		Limits: limits,
		Root:   root.Dir, Mounts: mounts, Argv: argv, Env: sandbox.DefaultEnv(0, "TERM="+os.Getenv("TERM")),
		Dir: sandbox.HomeDir, Network: *network, Stdin: e.stdin, Stdout: e.stdout, Stderr: e.stderr,
		// From a terminal the command gets one of its own, relayed by the
		// sandbox: the caller's terminal never reaches it.
		TTY: isTTY(e.stdin),
	}
	err = sandbox.Run(e.ctx, spec)
	var xe *sandbox.ExitError
	if errors.As(err, &xe) {
		return exitError{code: xe.ExitCode()}
	}
	return err
}

// isTTY reports whether x is a terminal (not just any character device).
func isTTY(x any) bool {
	f, ok := x.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}
