package testenv

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// UnderTerminal runs the test named test of this test binary in a child
// process whose controlling terminal, stdin, stdout and stderr are a fresh
// pseudo-terminal, as a command started from a shell runs. env is the
// child's whole environment besides PATH. It returns what the child wrote
// to the terminal and how it exited.
func UnderTerminal(t testing.TB, test string, env ...string) (string, error) {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatalf("opening a pseudo-terminal: %v", err)
	}
	defer ptmx.Close()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(self, "-test.run=^"+test+"$", "-test.v", "-test.count=1")
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close()
	var out bytes.Buffer
	copied := make(chan struct{})
	go func() { _, _ = io.Copy(&out, ptmx); close(copied) }() // EIO once the child is gone
	err = cmd.Wait()
	select {
	case <-copied:
	case <-time.After(5 * time.Second):
	}
	return out.String(), err
}

// CheckTerminalInput fails t if anything waits in the input queue of the
// terminal on fd 0: text pushed there with TIOCSTI is what the user's shell
// reads, and runs, as soon as the current command exits.
func CheckTerminalInput(t testing.TB) {
	t.Helper()
	n, err := unix.IoctlGetInt(0, unix.TIOCINQ)
	if err != nil {
		t.Fatalf("stdin is not a terminal: %v", err)
	}
	if n > 0 {
		buf := make([]byte, n)
		m, _ := unix.Read(0, buf)
		t.Fatalf("a sandboxed command typed %q into the caller's terminal", buf[:max(m, 0)])
	}
}
