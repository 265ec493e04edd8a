package remotetest

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/monogres/monogres/build/sandbox"
)

// envForward makes this test binary the netns helper: "ADDR=SOCKET".
const envForward = "MONOGRES_TEST_NETNS_FORWARD"

// CacheAddr is where the cache is reached inside every machine's network
// namespace (each namespace has its own loopback, so they all use it).
const CacheAddr = "127.0.0.1:8080"

// Machine runs a command as a separate machine on the network: in a new
// network namespace whose only interface is its own loopback, on which
// CacheAddr forwards to the cache's unix socket. Nothing else is
// reachable (no route, no DNS). The test binary must call NetnsMain first
// in TestMain.
func Machine(socket string, name string, args ...string) *exec.Cmd {
	self, err := os.Executable()
	if err != nil {
		panic(err)
	}
	cmd := exec.Command(self, append([]string{name}, args...)...)
	cmd.Env = append(os.Environ(), envForward+"="+CacheAddr+"="+socket)
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	return cmd
}

// NetnsMain runs the helper when this process is one started by Machine
// (it never returns then) and does nothing otherwise.
func NetnsMain() {
	v := os.Getenv(envForward)
	if v == "" {
		return
	}
	os.Unsetenv(envForward)
	addr, sock, _ := strings.Cut(v, "=")
	if err := sandbox.LoopbackUp(); err != nil {
		fmt.Fprintln(os.Stderr, "netns helper: lo up:", err)
		os.Exit(125)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "netns helper:", err)
		os.Exit(125)
	}
	go forward(l, sock)
	if os.Args[1] == "probe" { // what this machine can reach
		for _, a := range os.Args[2:] {
			c, err := net.Dial("tcp", a)
			if err == nil {
				c.Close()
				fmt.Printf("%s reachable\n", a)
			} else {
				fmt.Printf("%s unreachable\n", a)
			}
		}
		os.Exit(0)
	}
	cmd := exec.Command(os.Args[1], os.Args[2:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		os.Exit(ee.ExitCode())
	case err != nil:
		fmt.Fprintln(os.Stderr, "netns helper:", err)
		os.Exit(125)
	}
	os.Exit(0)
}

// forward copies every connection to l to and from the unix socket.
func forward(l net.Listener, sock string) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			u, err := net.Dial("unix", sock)
			if err != nil {
				return // the cache is down: the client sees the connection closed
			}
			defer u.Close()
			done := make(chan struct{}, 2)
			go func() { io.Copy(u, c); u.(*net.UnixConn).CloseWrite(); done <- struct{}{} }()
			go func() { io.Copy(c, u); c.(*net.TCPConn).CloseWrite(); done <- struct{}{} }()
			<-done
			<-done
		}()
	}
}
