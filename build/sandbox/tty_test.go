package sandbox_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/monogres/monogres/build/sandbox"
	"github.com/monogres/monogres/internal/testenv"
)

// injected is what the attacks try to type into the caller's terminal.
const injected = "touch PWNED\n"

// TestBuildCannotTypeIntoTerminal runs sandboxed commands the way builds,
// smoke tests and plugin commands run (stdin /dev/null, output to a pipe or
// even the caller's terminal itself) from a process whose controlling
// terminal is a real pseudo-terminal. The command pushes "touch PWNED\n" with
// TIOCSTI through /dev/tty and fds 0-2; nothing may reach the terminal's
// input.
func TestBuildCannotTypeIntoTerminal(t *testing.T) {
	root := testRoot(t)
	out, err := testenv.UnderTerminal(t, "TestInjectHelper", injectRootEnv+"="+root)
	if err != nil || !strings.Contains(out, "--- PASS: TestInjectHelper") {
		t.Fatalf("under a terminal: %v\n%s", err, out)
	}
	t.Logf("under a terminal:\n%s", out)
}

const injectRootEnv = "MONOGRES_SANDBOX_TEST_INJECT_ROOT"

// TestInjectHelper is run by TestBuildCannotTypeIntoTerminal, with a
// terminal as its controlling terminal and stdin, stdout and stderr.
func TestInjectHelper(t *testing.T) {
	root := os.Getenv(injectRootEnv)
	if root == "" {
		t.Skip("run by TestBuildCannotTypeIntoTerminal only")
	}
	for _, tc := range []struct {
		name           string
		stdin          io.Reader
		stdout, stderr io.Writer
		tty            bool
	}{
		{"build (output to a pipe)", nil, &bytes.Buffer{}, &bytes.Buffer{}, false},
		{"output to the terminal", nil, os.Stdout, os.Stderr, false},
		// An interactive command gets a terminal of its own: TIOCSTI works
		// there, and only there.
		{"own terminal", os.Stdin, os.Stdout, os.Stderr, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := sandbox.Run(context.Background(), sandbox.Spec{
				Root: root, Argv: []string{"probe", "tiocsti", injected},
				Env: sandbox.DefaultEnv(0), Stdin: tc.stdin, Stdout: tc.stdout, Stderr: tc.stderr, TTY: tc.tty,
			})
			if b, ok := tc.stdout.(*bytes.Buffer); ok {
				t.Logf("inside:\n%s", b)
			}
			var ee *sandbox.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			testenv.CheckTerminalInput(t)
		})
	}
}
