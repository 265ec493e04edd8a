package cli

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/sandbox"
	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/suggest"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

func init() { register(newToolchainCmd) }

func newToolchainCmd(e *env) *cobra.Command {
	var arch, src, options, cellName string
	var network bool
	shell := &cobra.Command{
		Use:   "shell [-- CMD [ARG]...]",
		Short: "run a shell or command inside a locked toolchain root in the build sandbox",
		Long: `Fetch and compose a locked toolchain root and run CMD in it, in the build
sandbox (default: an interactive bash). The root is the base of --arch (a
shell, coreutils, the build tools; arm64: the cross base), plus the option
layers --options names, or exactly a cell's root with --cell. CMD's own
flags follow it (or --). The exit code is CMD's.`,
		Example: `  monogres toolchain shell
  monogres toolchain shell -- /bin/sh -c 'echo ok'
  monogres toolchain shell --options openssl,icu -- pkg-config --modversion icu-uc
  monogres toolchain shell --cell 'postgres~15.18~regular~amd64'
  monogres toolchain shell --arch arm64 --src ./ext -- make -C /build/src`,
		RunE: func(_ *cobra.Command, argv []string) error {
			return runToolchainShell(e, arch, options, cellName, src, network, argv)
		},
	}
	shell.Flags().SetInterspersed(false) // CMD's own flags are CMD's
	shell.Flags().StringVar(&arch, "arch", "amd64", "the target whose root to enter (arm64: the cross root)")
	shell.Flags().StringVar(&options, "options", "", "option layers to add to the base root: a comma list (openssl,icu) or all")
	shell.Flags().StringVar(&cellName, "cell", "", "enter exactly this cell's root (its target, options and extension)")
	shell.RegisterFlagCompletionFunc("cell", e.completeCells)
	shell.Flags().StringVar(&src, "src", "", "a host directory to mount writable at /build/src")
	shell.Flags().BoolVar(&network, "network", false, "keep the host network (builds never get it)")
	shell.RegisterFlagCompletionFunc("arch", cobra.FixedCompletions([]string{"amd64", "arm64"}, cobra.ShellCompDirectiveNoFileComp))
	return group(&cobra.Command{
		Use:     "toolchain",
		Short:   "run a shell or command inside a locked toolchain root in the build sandbox (toolchain shell)",
		Example: "  monogres toolchain shell -- /bin/sh -c 'echo ok'",
	}, shell)
}

func runToolchainShell(e *env, arch, options, cellName, src string, network bool, argv []string) error {
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
	cell, err := e.shellRoot(arch, options, cellName)
	if err != nil {
		return err
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
	if src != "" {
		mounts = append(mounts, sandbox.BindRW(src, sandbox.SrcDir))
	}
	limits := app.SandboxLimits(m.Limits)
	if limits.WallClock == 0 {
		limits.WallClock = 24 * time.Hour // an interactive session, not a build action
	}
	spec := sandbox.Spec{
		Limits: limits,
		Root:   root.Dir, Mounts: mounts, Argv: argv, Env: sandbox.DefaultEnv(0, "TERM="+os.Getenv("TERM")),
		Dir: sandbox.HomeDir, Network: network, Stdin: e.stdin, Stdout: e.stdout, Stderr: e.stderr,
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

// shellRoot is the root toolchain shell enters: a cell's, or the base of
// arch with the option layers options names ("all": every option).
func (e *env) shellRoot(arch, options, cellName string) (toolchains.Cell, error) {
	if cellName != "" {
		g, err := e.app().Graph(e.ctx, []string{cellName}, false)
		if err != nil {
			return toolchains.Cell{}, err
		}
		for _, n := range g.Nodes {
			if n.Cell.Name == cellName {
				return build.RootCell(n.Cell), nil
			}
		}
		return toolchains.Cell{}, usageError{fmt.Sprintf("--cell %s: name one cell, not a glob", cellName)}
	}
	cell := toolchains.Cell{Target: arch}
	switch options {
	case "":
	case "all":
		for _, o := range manifest.Options {
			cell.Options = append(cell.Options, string(o))
		}
	default:
		for _, o := range strings.Split(options, ",") {
			if !slices.Contains(manifest.Options, manifest.Option(o)) {
				var known []string
				for _, k := range manifest.Options {
					known = append(known, string(k))
				}
				return cell, usageError{fmt.Sprintf("--options: unknown option %q%s", o, didYouMean(suggest.Closest(o, known)))}
			}
			cell.Options = append(cell.Options, o)
		}
	}
	return cell, nil
}
