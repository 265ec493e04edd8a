// Package cli implements the monogres command line: it parses flags, loads
// the manifest and lock, calls the engine packages, and picks the TUI or a
// plain/JSON printer for their events. Errors come back here and become exit
// codes; nothing below exits the process.
//
// The command tree is github.com/spf13/cobra: it gives every command -h,
// `monogres help CMD`, persistent global flags in any position, shell
// completion with dynamic values (cells, lock inputs) and did-you-mean for
// commands. Each command lives in its own file and registers a constructor
// with register (see commands.go's doc there).
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/charmbracelet/x/term"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/suggest"
)

// defaultManifest is the manifest used without --manifest.
const defaultManifest = "monogres.toml"

// Exit codes (documented in README.md, "Exit codes").
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
	e.setPaths()
	return &app.App{ManifestPath: e.manifestPath, LockPath: e.lockPath}
}

// setPaths derives the lock's path from --manifest.
func (e *env) setPaths() {
	e.lockPath = filepath.Join(filepath.Dir(e.manifestPath), "monogres.lock")
}

// registry holds every command's constructor, in registration order.
var registry []func(e *env) *cobra.Command

// register adds a top-level command. Each command's file calls it from
// init:
//
//	func init() { register(newFooCmd) }
//
//	func newFooCmd(e *env) *cobra.Command {
//		var asJSON bool
//		c := &cobra.Command{Use: "foo CELL", Short: "…", Example: "  monogres foo postgres~15.18~regular~amd64",
//			Args: exactArgs(1), ValidArgsFunction: e.completeCells,
//			RunE: func(_ *cobra.Command, args []string) error { … }}
//		c.Flags().BoolVar(&asJSON, "json", false, "…")
//		return c
//	}
//
// Return usageError for a bad command line (exit 2), exitError for a
// specific exit code, any other error for exit 1.
func register(f func(e *env) *cobra.Command) { registry = append(registry, f) }

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
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr, manifestPath: defaultManifest}
	root := newRoot(e)
	root.SetArgs(args)
	cmd, err := root.ExecuteC()
	return report(e, cmdName(cmd), err)
}

// newRoot builds the whole command tree for one run.
func newRoot(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:                   "monogres [--manifest FILE] COMMAND [ARGS]",
		DisableFlagsInUseLine: true,
		Short:                 "reproducible Postgres distributions: lock, fetch, build, verify",
		Long: `monogres makes Postgres distributions reproducible: monogres.toml declares
Postgres versions, option sets, extensions and targets; monogres.lock pins
every input by sha256; builds run hermetically and their packages are byte
for byte the same every time.

With no command on a terminal, monogres opens the terminal UI.`,
		Example: `  monogres init && monogres lock
  monogres build 'postgres~15.18~barebones~amd64'
  monogres --manifest other/monogres.toml plan --count
  monogres help build`,
		Version:       versionLine(),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          unknownCommand,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if isTTY(e.stdout) && isTTY(e.stdin) {
				return runTUI(e, nil)
			}
			fmt.Fprint(e.stderr, cmd.UsageString())
			return exitError{code: exitUsage}
		},
		PersistentPreRun: func(*cobra.Command, []string) { e.setPaths() },
		CompletionOptions: cobra.CompletionOptions{
			HiddenDefaultCmd: false,
		},
	}
	root.SetVersionTemplate("{{.Version}}\n" + versionDetails())
	root.PersistentFlags().StringVar(&e.manifestPath, "manifest", defaultManifest, "path of the manifest; the lock is monogres.lock beside it")
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetFlagErrorFunc(flagError)
	for _, f := range registry {
		root.AddCommand(f(e))
	}
	root.InitDefaultCompletionCmd()
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			c.Example = "  monogres help build\n  monogres help store gc"
		}
	}
	return root
}

// cmdName is the top-level command's name ("lock" for `lock --check`,
// "store" for `store gc`), or "" for monogres itself.
func cmdName(cmd *cobra.Command) string {
	if cmd == nil || !cmd.HasParent() {
		return ""
	}
	for cmd.Parent().HasParent() {
		cmd = cmd.Parent()
	}
	return cmd.Name()
}

func report(e *env, name string, err error) int {
	var ue usageError
	var xe exitError
	prefix := "monogres"
	if name != "" {
		prefix += " " + name
	}
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "%s: %s\n", prefix, ue.msg)
		return exitUsage
	case errors.As(err, &xe):
		if xe.msg != "" {
			fmt.Fprintln(e.stderr, xe.msg)
		}
		return xe.code
	case errors.Is(err, context.Canceled) || e.ctx.Err() != nil:
		fmt.Fprintf(e.stderr, "%s: interrupted\n", prefix)
		return exitInterrupt
	}
	fmt.Fprintf(e.stderr, "%s: %v\n", prefix, err)
	return exitFail
}

// unknownCommand is monogres' own Args: any argument is a command it does
// not have.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q%s\nRun 'monogres --help' for the commands.", args[0], didYouMean(subcommandSuggestions(cmd, args[0])))}
}

// group makes cmd a command of subcommands: run alone or with an unknown
// subcommand it is a usage error naming the subcommands.
// Without an Example of its own it shows its subcommands' examples.
func group(cmd *cobra.Command, subs ...*cobra.Command) *cobra.Command {
	cmd.AddCommand(subs...)
	if cmd.Example == "" {
		var ex []string
		for _, s := range subs {
			if s.Example != "" {
				ex = append(ex, s.Example)
			}
		}
		cmd.Example = strings.Join(ex, "\n")
	}
	cmd.Args = func(c *cobra.Command, args []string) error {
		var names []string
		for _, s := range c.Commands() {
			names = append(names, s.Name())
		}
		if len(args) == 0 {
			return usageError{fmt.Sprintf("want a subcommand: %s (see monogres %s -h)", strings.Join(names, ", "), c.Name())}
		}
		return usageError{fmt.Sprintf("unknown %s subcommand %q%s (want %s)", c.Name(), args[0], didYouMean(subcommandSuggestions(c, args[0])), strings.Join(names, ", "))}
	}
	cmd.RunE = func(*cobra.Command, []string) error { return nil }
	return cmd
}

// flagError is a bad flag: a usage error with the closest flag names.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	name := ""
	switch {
	case strings.HasPrefix(msg, "unknown flag: --"):
		name = strings.TrimPrefix(msg, "unknown flag: --")
	case strings.HasPrefix(msg, "unknown shorthand flag: "):
		if i := strings.Index(msg, " in -"); i >= 0 {
			name = msg[i+len(" in -"):]
		}
	}
	if name != "" {
		var flags []string
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if !f.Hidden {
				flags = append(flags, f.Name)
			}
		})
		var sug []string
		for _, s := range suggest.Closest(name, flags) {
			sug = append(sug, "--"+s)
		}
		msg += didYouMean(sug)
	}
	return usageError{msg + fmt.Sprintf("\nRun '%s -h' for its flags.", cmd.CommandPath())}
}

// subcommandSuggestions are cmd's subcommands closest to name.
func subcommandSuggestions(cmd *cobra.Command, name string) []string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
			names = append(names, c.Aliases...)
		}
	}
	return suggest.Closest(name, names)
}

var didYouMean = app.DidYouMean

// Positional argument checks whose failures are usage errors (exit 2).

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Sprintf("%s takes no arguments, got %q", cmd.CommandPath(), args)}
	}
	return nil
}

func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{fmt.Sprintf("usage: %s (got %d arguments; see -h)", cmd.UseLine(), len(args))}
		}
		return nil
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return usageError{fmt.Sprintf("usage: %s (see -h)", cmd.UseLine())}
		}
		return nil
	}
}

// isTTY reports whether x is a terminal (not just any character device:
// /dev/null is not one).
func isTTY(x any) bool {
	f, ok := x.(*os.File)
	return ok && term.IsTerminal(f.Fd())
}
