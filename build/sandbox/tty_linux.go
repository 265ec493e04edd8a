//go:build linux

package sandbox

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/charmbracelet/x/term"
	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// terminalFile returns x as a file when it is a terminal.
func terminalFile(x any) (*os.File, bool) {
	f, ok := x.(*os.File)
	if !ok || f == nil {
		return nil, false
	}
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, false
	}
	isTTY := false
	_ = rc.Control(func(fd uintptr) {
		_, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		isTTY = err == nil
	})
	return f, isTTY
}

// hideTerminal returns w, wrapped when it is a terminal so that os/exec
// hands the command a pipe instead of the terminal itself.
func hideTerminal(w io.Writer) io.Writer {
	if _, ok := terminalFile(w); ok {
		return struct{ io.Writer }{w}
	}
	return w
}

// ttyRelay is the pseudo-terminal of a Spec.TTY command and the copying
// between it and the caller's streams.
type ttyRelay struct {
	ptmx, tty *os.File
	term      *os.File // the caller's terminal, when Stdin is one
	raw       *term.State
	winch     chan os.Signal
	outDone   chan struct{}
	stopR     *os.File // readable once the input relay must end
	stopW     *os.File
}

// newTTY opens a pseudo-terminal whose terminal side (tty) is to become
// the init's stdin, stdout and stderr, sized like stdin if that is a
// terminal.
func newTTY(stdin io.Reader) (*ttyRelay, error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, err
	}
	r := &ttyRelay{ptmx: ptmx, tty: tty, outDone: make(chan struct{})}
	if f, ok := terminalFile(stdin); ok {
		r.term = f
		_ = pty.InheritSize(f, ptmx)
	}
	return r, nil
}

// start relays stdin to the terminal and its output to stdout, once the
// init holds the terminal side.
func (r *ttyRelay) start(stdin io.Reader, stdout io.Writer) error {
	r.tty.Close()
	if stdout == nil {
		stdout = io.Discard
	}
	go func() {
		// Reading ends with EIO once every process holding the terminal
		// side is gone.
		_, _ = io.Copy(stdout, r.ptmx)
		close(r.outDone)
	}()
	if r.term != nil {
		st, err := term.MakeRaw(r.term.Fd())
		if err != nil {
			return err
		}
		r.raw = st
		r.winch = make(chan os.Signal, 1)
		signal.Notify(r.winch, syscall.SIGWINCH)
		go func() {
			for range r.winch {
				_ = pty.InheritSize(r.term, r.ptmx)
			}
		}()
	}
	switch in := stdin.(type) {
	case nil:
	case *os.File:
		var err error
		if r.stopR, r.stopW, err = os.Pipe(); err != nil {
			return err
		}
		go relayFile(r.ptmx, in, r.stopR)
	default:
		go func() { _, _ = io.Copy(r.ptmx, in) }()
	}
	return nil
}

// stop ends the relay after the init exited: it waits for the last output,
// stops reading stdin (no keystroke after the run is taken) and restores
// the caller's terminal.
func (r *ttyRelay) stop() {
	select {
	case <-r.outDone:
	case <-time.After(5 * time.Second):
	}
	if r.stopW != nil {
		r.stopW.Close()
	}
	r.ptmx.Close()
	if r.winch != nil {
		signal.Stop(r.winch)
		close(r.winch)
	}
	if r.raw != nil {
		_ = term.Restore(r.term.Fd(), r.raw)
	}
}

// relayFile copies src to dst until src ends or stop becomes readable; it
// reads only what poll says is there, so it never blocks in a read that
// would outlive the run.
func relayFile(dst, src, stop *os.File) {
	defer stop.Close()
	in, st := int(src.Fd()), int(stop.Fd())
	buf := make([]byte, 4096)
	for {
		fds := []unix.PollFd{{Fd: int32(in), Events: unix.POLLIN}, {Fd: int32(st), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		if fds[1].Revents != 0 {
			return
		}
		n, err := unix.Read(in, buf)
		if n <= 0 || err != nil {
			return
		}
		if _, err := dst.Write(buf[:n]); err != nil {
			return
		}
	}
}
