// Package cli implements the monogres command line: it parses flags, loads
// the manifest and lock, calls the engine packages, and picks the TUI or a
// plain/JSON printer for their events. Errors come back here and become exit
// codes; nothing below exits the process.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/monogres/monogres/internal/app"
)

// defaultManifest is the manifest used without --manifest.
const defaultManifest = "monogres.toml"

// Exit codes.
const (
	exitOK        = 0
	exitFail      = 1 // the command ran and the answer is "no" (stale lock, failed build)
	exitUsage     = 2
	exitInterrupt = 130
)

// Init must run first in main (and in TestMain): a re-executed monogres may
// be the init process of a build sandbox.
func Init() { sandboxInit() }

// env is what every command gets.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// manifestPath is the monogres.toml in use; lockPath sits beside it.
	manifestPath string
	lockPath     string
}

// app is the application layer over the manifest in use.
func (e *env) app() *app.App {
	return &app.App{ManifestPath: e.manifestPath, LockPath: e.lockPath}
}

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) error
}

func commands() []command {
	return []command{
		{"init", "write a commented starter monogres.toml", runInit},
		{"key", "generate a signing key pair (key generate NAME) or print the signing key's public key (key public)", runKey},
		{"index", "discover Postgres releases and pin their sha256 from Debian, upstream and git (index update), or fail on a changed digest (index check)", runIndex},
		{"lock", "pin every input of monogres.toml by sha256 into monogres.lock", runLock},
		{"plan", "list the matrix of cells and the options each gets", runPlan},
		{"export", "write built packages as an OCI image layout (export oci) or .deb files (export deb)", runExport},
		{"fetch", "fetch locked inputs into the content-addressed store", runFetch},
		{"store", "add files to, verify, or garbage-collect the store", runStore},
		{"attest", "check a signed attestation (provenance, verification summary) against a package (attest verify)", runAttest},
		{"build", "build cells (default: the manifest's default cells) hermetically and package them", runBuild},
		{"plugin", "write, build and dry-run wasm build plugins (plugin init|build|run)", runPlugin},
		{"toolchain", "run a shell or command inside a locked toolchain root in the build sandbox (toolchain shell)", runToolchain},
		{"tui", "open the terminal UI (also: monogres with no arguments on a terminal)", runTUI},
		{"verify", "rebuild cells without the cache and compare package digests", runVerify},
	}
}

// usageError is a bad command line: exit 2 with usage.
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

// exitError carries a specific exit code with an already-printed message.
type exitError struct {
	code int
	msg  string
}

func (x exitError) Error() string { return x.msg }

// Main runs monogres with args (without the program name) and returns the
// process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	fs := flag.NewFlagSet("monogres", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&e.manifestPath, "manifest", defaultManifest, "path of the manifest; the lock is monogres.lock beside it")
	help := fs.Bool("help", false, "show help")
	fs.BoolVar(help, "h", false, "show help")
	if err := fs.Parse(args); err != nil {
		fmt.Fprintf(stderr, "monogres: %v\n", err)
		usage(stderr)
		return exitUsage
	}
	e.lockPath = filepath.Join(filepath.Dir(e.manifestPath), "monogres.lock")
	args = fs.Args()
	if *help {
		usage(stdout)
		return exitOK
	}
	if len(args) == 0 {
		if isTerminal(stdout) && isTerminal(stdin) {
			args = []string{"tui"}
		} else {
			usage(stderr)
			return exitUsage
		}
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return report(e, c.name, c.run(e, args[1:]))
		}
	}
	fmt.Fprintf(stderr, "monogres: unknown command %q\n", args[0])
	usage(stderr)
	return exitUsage
}

func report(e *env, name string, err error) int {
	var ue usageError
	var xe exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "monogres %s: %s\n", name, ue.msg)
		return exitUsage
	case errors.As(err, &xe):
		if xe.msg != "" {
			fmt.Fprintln(e.stderr, xe.msg)
		}
		return xe.code
	case errors.Is(err, context.Canceled) || e.ctx.Err() != nil:
		fmt.Fprintf(e.stderr, "monogres %s: interrupted\n", name)
		return exitInterrupt
	}
	fmt.Fprintf(e.stderr, "monogres %s: %v\n", name, err)
	return exitFail
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: monogres [--manifest FILE] COMMAND [ARGS]")
	fmt.Fprintln(w, "\ncommands:")
	cs := commands()
	sort.Slice(cs, func(i, j int) bool { return cs[i].name < cs[j].name })
	for _, c := range cs {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'monogres COMMAND -h' for a command's flags.")
}

// flags makes a FlagSet whose errors become usage errors.
func flags(name string, w io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("monogres "+name, flag.ContinueOnError)
	fs.SetOutput(w)
	return fs
}

// parse parses args, allowing flags after positional arguments; everything
// after "--" is positional.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for i, a := range args {
		if a == "--" {
			args, rest = args[:i], args[i+1:]
			break
		}
	}
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, exitError{code: exitOK}
			}
			return nil, usageError{err.Error()}
		}
		args = fs.Args()
		if len(args) == 0 {
			return append(pos, rest...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func isTerminal(x any) bool {
	f, ok := x.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
