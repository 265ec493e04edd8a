// Package tmuxtest runs a program in a real terminal, a tmux pane, for
// end-to-end tests: send keys, read the screen, wait for text, and check that
// the program restored the terminal when it exited.
package tmuxtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// DefaultTimeout is how long WaitFor and Exited wait.
const DefaultTimeout = 30 * time.Second

// Need skips the test when tmux is missing and we are not root, and fails it
// when tmux is missing and we are root (CI runs as root and installs tmux
// through .ci/apt-packages.txt).
func Need(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Geteuid() != 0 {
			t.Skip("tmux is not installed and we are not root to require it (CI installs it: .ci/apt-packages.txt)")
		}
		t.Fatal("tmux is not installed; it is listed in .ci/apt-packages.txt")
	}
}

// Term is one tmux server with one pane running one program.
type Term struct {
	t      testing.TB
	socket string
	state  string // the harness's files: tty settings, exit status, stderr
}

// Start runs argv in dir inside a w×h tmux pane, with env (NAME=value) added
// to its environment. The pane's shell records the tty settings before and
// after the program and its exit status; its stderr goes to a file shown
// when a wait fails. The tmux server is killed when the test ends.
func Start(t testing.TB, dir string, w, h int, env []string, argv ...string) *Term {
	t.Helper()
	tm := &Term{t: t, socket: fmt.Sprintf("monogres-e2e-%d-%d", os.Getpid(), time.Now().UnixNano()), state: t.TempDir()}
	var cmd []string
	for _, e := range env {
		name, value, ok := strings.Cut(e, "=")
		if !ok {
			t.Fatalf("tmuxtest.Start: environment entry %q is not NAME=value", e)
		}
		cmd = append(cmd, name+"="+quote(value))
	}
	for _, a := range argv {
		cmd = append(cmd, quote(a))
	}
	st := func(name string) string { return quote(filepath.Join(tm.state, name)) }
	script := fmt.Sprintf(`cd %s && stty -g > %s && %s 2> %s; echo $? > %s; stty -g > %s; exec sleep 3600`,
		quote(dir), st("tty-before"), strings.Join(cmd, " "), st("stderr"), st("exit"), st("tty-after"))
	tm.tmux("-f", "/dev/null", "new-session", "-d", "-s", "e2e", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h), "sh", "-c", script)
	sock := strings.TrimSpace(tm.tmux("display-message", "-p", "#{socket_path}"))
	t.Cleanup(func() {
		_ = exec.Command("tmux", "-L", tm.socket, "kill-server").Run()
		os.Remove(sock) // tmux leaves it behind
	})
	return tm
}

// quote quotes s for sh.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (tm *Term) tmux(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-L", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Screen is the pane's text now.
func (tm *Term) Screen() string { return tm.tmux("capture-pane", "-p", "-t", "e2e") }

// Resize sets the pane's terminal to w columns and h lines, as a user
// resizing the window does (the program gets SIGWINCH).
func (tm *Term) Resize(w, h int) {
	tm.t.Helper()
	tm.tmux("resize-window", "-t", "e2e", "-x", fmt.Sprint(w), "-y", fmt.Sprint(h))
}

// Keys sends tmux key names (such as "j", "Enter", "C-c") one at a time.
func (tm *Term) Keys(keys ...string) {
	tm.t.Helper()
	for _, k := range keys {
		tm.tmux("send-keys", "-t", "e2e", k)
		time.Sleep(50 * time.Millisecond)
	}
}

// Type sends text literally, as if typed.
func (tm *Term) Type(text string) {
	tm.t.Helper()
	tm.tmux("send-keys", "-t", "e2e", "-l", text)
	time.Sleep(50 * time.Millisecond)
}

// WaitFor polls the screen until every string is on it, for up to
// DefaultTimeout, and returns that screen.
func (tm *Term) WaitFor(what ...string) string {
	tm.t.Helper()
	return tm.WaitUntil(DefaultTimeout, fmt.Sprintf("%q on screen", what), func(s string) bool {
		for _, w := range what {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
}

// WaitUntil polls the screen until ok accepts it and returns that screen. It
// fails the test after timeout with the screen and the program's stderr.
func (tm *Term) WaitUntil(timeout time.Duration, what string, ok func(screen string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := tm.Screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("timed out after %v waiting for %s; screen:\n%s\n%s", timeout, what, s, tm.Stderr())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stderr is the tail of what the program wrote to stderr so far, labelled.
func (tm *Term) Stderr() string {
	b, _ := os.ReadFile(filepath.Join(tm.state, "stderr"))
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return "stderr: " + string(b)
}

// Exited waits for the program to end and returns its exit status, after
// checking the terminal was restored: same tty settings, main screen,
// visible cursor.
func (tm *Term) Exited() string {
	tm.t.Helper()
	tm.WaitUntil(DefaultTimeout, "the program to exit", func(string) bool {
		b, err := os.ReadFile(filepath.Join(tm.state, "tty-after"))
		return err == nil && len(b) > 0
	})
	before, _ := os.ReadFile(filepath.Join(tm.state, "tty-before"))
	after, _ := os.ReadFile(filepath.Join(tm.state, "tty-after"))
	if string(before) != string(after) {
		tm.t.Errorf("tty settings not restored:\nbefore %s\nafter  %s", before, after)
	}
	if got := strings.TrimSpace(tm.tmux("display-message", "-p", "-t", "e2e", "#{alternate_on} #{cursor_flag}")); got != "0 1" {
		tm.t.Errorf("alternate screen/cursor after exit = %q, want main screen and visible cursor (\"0 1\")", got)
	}
	code, _ := os.ReadFile(filepath.Join(tm.state, "exit"))
	return strings.TrimSpace(string(code))
}
