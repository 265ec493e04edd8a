package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/monogres/monogres/internal/testenv"
)

// attackPy is the terminal injection attack the issue reproduced: push
// "touch PWNED\n" with TIOCSTI into every terminal within reach.
const attackPy = `import fcntl, os, termios
text = "touch PWNED\n"
targets = []
try:
    targets.append(("/dev/tty", os.open("/dev/tty", os.O_RDWR)))
except OSError as e:
    print("/dev/tty:", e)
targets += [("fd %d" % fd, fd) for fd in (0, 1, 2)]
for name, fd in targets:
    try:
        for c in text:
            fcntl.ioctl(fd, termios.TIOCSTI, c.encode())
        print(name, "TIOCSTI: injected")
    except OSError as e:
        print(name, "TIOCSTI:", e)
`

// TestToolchainShellCannotTypeIntoTerminal runs `monogres toolchain shell --
// python3 attack.py` in the repository's real amd64 toolchain root from a
// process whose controlling terminal is a real pseudo-terminal. The command
// gets a terminal of its own (TIOCSTI works there), and nothing reaches the
// caller's terminal input.
func TestToolchainShellCannotTypeIntoTerminal(t *testing.T) {
	testenv.RequireRoot(t, "the toolchain shell is a Linux namespace sandbox")
	if testing.Short() {
		t.Skip("composes the real toolchain root")
	}
	dir, src := e2eProject(t), t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "attack.py"), []byte(attackPy), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := testenv.UnderTerminal(t, "TestToolchainShellTerminalHelper",
		"MONOGRES_STORE="+e2eStore(), shellProjectEnv+"="+dir, shellSrcEnv+"="+src)
	if err != nil || !strings.Contains(out, "--- PASS: TestToolchainShellTerminalHelper") {
		t.Fatalf("under a terminal: %v\n%s", err, out)
	}
	if !strings.Contains(out, "fd 0 TIOCSTI: injected") {
		t.Errorf("the command inside had no terminal of its own:\n%s", out)
	}
	t.Logf("under a terminal:\n%s", out)
}

const (
	shellProjectEnv = "MONOGRES_TEST_SHELL_PROJECT"
	shellSrcEnv     = "MONOGRES_TEST_SHELL_SRC"
)

// TestToolchainShellTerminalHelper is run by
// TestToolchainShellCannotTypeIntoTerminal under a terminal.
func TestToolchainShellTerminalHelper(t *testing.T) {
	dir := os.Getenv(shellProjectEnv)
	if dir == "" {
		t.Skip("run by TestToolchainShellCannotTypeIntoTerminal only")
	}
	args := []string{"--manifest", filepath.Join(dir, "monogres.toml"), "toolchain", "shell",
		"--src", os.Getenv(shellSrcEnv), "--", "python3", "/build/src/attack.py"}
	if code := Main(context.Background(), args, os.Stdin, os.Stdout, os.Stderr); code != 0 {
		t.Fatalf("monogres %s: exit status %d", strings.Join(args, " "), code)
	}
	testenv.CheckTerminalInput(t)
}
