// Command probe is built statically by the sandbox tests and put into the
// test root file system; each subcommand checks one thing from inside the
// sandbox and prints what it found.
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"
)

func main() {
	if len(os.Args) < 2 {
		fail("usage: probe connect ADDR | loopback | resolve HOST | ifaces | write PATH | tiocsti TEXT")
	}
	switch os.Args[1] {
	case "connect":
		c, err := net.DialTimeout("tcp", os.Args[2], 3*time.Second)
		if err != nil {
			fail("connect: %v", err)
		}
		b, _ := io.ReadAll(c)
		fmt.Printf("connected: %s\n", b)
	case "loopback":
		for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				fail("listen %s: %v", addr, err)
			}
			go func() {
				c, err := ln.Accept()
				if err == nil {
					fmt.Fprint(c, "hello from inside")
					c.Close()
				}
			}()
			c, err := net.DialTimeout("tcp", ln.Addr().String(), 3*time.Second)
			if err != nil {
				fail("connect %s: %v", ln.Addr(), err)
			}
			b, _ := io.ReadAll(c)
			fmt.Printf("%s: %s\n", ln.Addr(), b)
		}
	case "resolve":
		addrs, err := net.LookupHost(os.Args[2])
		if err != nil {
			fail("resolve: %v", err)
		}
		fmt.Println(strings.Join(addrs, " "))
	case "ifaces":
		ifs, err := net.Interfaces()
		if err != nil {
			fail("interfaces: %v", err)
		}
		for _, i := range ifs {
			addrs, _ := i.Addrs()
			fmt.Printf("%s %v %v\n", i.Name, i.Flags, addrs)
		}
	case "write":
		if err := os.WriteFile(os.Args[2], []byte("written inside\n"), 0o644); err != nil {
			fail("write: %v", err)
		}
		fmt.Println("wrote", os.Args[2])
	case "spawn":
		// The fork bomb: start N sleeping processes, report how many
		// started, keep them for a moment and fail if any was refused.
		n, _ := strconv.Atoi(os.Args[2])
		started := 0
		var err error
		for ; started < n; started++ {
			if _, err = syscall.ForkExec("/bin/sleep", []string{"sleep", os.Args[3]}, &syscall.ProcAttr{}); err != nil {
				break
			}
		}
		fmt.Printf("started %d of %d processes\n", started, n)
		time.Sleep(2 * time.Second)
		if err != nil {
			fail("fork: %v", err)
		}
	case "alloc":
		// The memory hog: allocate and touch N MiB.
		n, _ := strconv.Atoi(os.Args[2])
		var keep [][]byte
		for i := range n {
			b := make([]byte, 1<<20)
			for j := range b {
				b[j] = byte(i + j)
			}
			keep = append(keep, b)
		}
		fmt.Printf("allocated %d MiB\n", len(keep))
	case "tiocsti":
		// The terminal injection attack: push TEXT into the input queue of
		// every terminal within reach (the controlling terminal through
		// /dev/tty, and fds 0-2), as if typed by the user.
		n := 0
		if tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0); err != nil {
			fmt.Printf("/dev/tty: %v\n", err)
		} else {
			n += inject("/dev/tty", tty.Fd(), os.Args[2])
		}
		for fd := range 3 {
			n += inject(fmt.Sprintf("fd %d", fd), uintptr(fd), os.Args[2])
		}
		fmt.Printf("injected into %d terminals\n", n)
	default:
		fail("unknown subcommand %q", os.Args[1])
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

// inject pushes text into the terminal fd with TIOCSTI, one byte at a time,
// and reports whether the kernel let it.
func inject(name string, fd uintptr, text string) int {
	for i := 0; i < len(text); i++ {
		b := text[i]
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCSTI, uintptr(unsafe.Pointer(&b))); e != 0 {
			fmt.Printf("%s: TIOCSTI: %v\n", name, e)
			return 0
		}
	}
	fmt.Printf("%s: TIOCSTI: injected %q\n", name, text)
	return 1
}
