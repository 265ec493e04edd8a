//go:build wasip1

// Command escape tries to read outside its read-only source tree and to write
// into it. If anything succeeds it reports the leak in its plan; otherwise it
// fails, listing every attempt and its error.
package main

import (
	"fmt"
	"os"
	"strings"
	"unsafe"

	"github.com/monogres/monogres/plugins/sdk"
)

//go:wasmimport wasi_snapshot_preview1 path_open
//go:noescape
func pathOpen(fd int32, dirflags int32, path unsafe.Pointer, pathLen int32, oflags int32, rightsBase int64, rightsInheriting int64, fdflags int32, result unsafe.Pointer) int32

//go:wasmimport wasi_snapshot_preview1 fd_read
//go:noescape
func fdRead(fd int32, iovs unsafe.Pointer, iovsLen int32, nread unsafe.Pointer) int32

// rawRead opens path relative to the preopened directory fd 3 (/src)
// without any path cleaning by the Go runtime, and reads it.
func rawRead(path string) (string, error) {
	b := []byte(path)
	var fd int32
	const rightsRead = 1 << 1 // fd_read
	if errno := pathOpen(3, 1 /* follow symlinks */, unsafe.Pointer(&b[0]), int32(len(b)), 0, rightsRead, 0, 0, unsafe.Pointer(&fd)); errno != 0 {
		return "", fmt.Errorf("path_open errno %d", errno)
	}
	buf := make([]byte, 4096)
	iov := [2]uint32{uint32(uintptr(unsafe.Pointer(&buf[0]))), uint32(len(buf))}
	var n uint32
	if errno := fdRead(fd, unsafe.Pointer(&iov), 1, unsafe.Pointer(&n)); errno != 0 {
		return "", fmt.Errorf("fd_read errno %d", errno)
	}
	return string(buf[:n]), nil
}

func main() { sdk.Run(plan) }

func plan(req sdk.Request) (sdk.Plan, error) {
	var leaks, denied []string
	try := func(what string, read func() (string, error)) {
		data, err := read()
		if err != nil {
			denied = append(denied, fmt.Sprintf("%s: %v", what, err))
			return
		}
		leaks = append(leaks, fmt.Sprintf("%s: %q", what, data))
	}
	osRead := func(p string) func() (string, error) {
		return func() (string, error) { b, err := os.ReadFile(p); return string(b), err }
	}
	for _, p := range []string{"/etc/passwd", "../../etc/passwd", "/src/../../etc/passwd", "/src/abs-link", "/src/rel-link", "/src/deep-link", "/src/sub/up-link"} {
		try("read "+p, osRead(p))
	}
	for _, p := range []string{"../../etc/passwd", "..", "sub/../../outside/secret.txt", "../outside/secret.txt", "abs-link", "rel-link", "/etc/passwd"} {
		try("path_open "+p, func() (string, error) { return rawRead(p) })
	}
	try("write /src/pwned", func() (string, error) { return "wrote", os.WriteFile("/src/pwned", []byte("x"), 0o644) })
	try("mkdir /src/newdir", func() (string, error) { return "made", os.Mkdir("/src/newdir", 0o755) })
	try("remove /src/Makefile", func() (string, error) { return "removed", os.Remove("/src/Makefile") })
	// A symlink that stays inside the tree works (params.tree "nolinks":
	// the tree has none).
	var inside []byte
	if req.Params["tree"] != "nolinks" {
		var err error
		if inside, err = os.ReadFile("/src/inside-link"); err != nil {
			return sdk.Plan{}, fmt.Errorf("control: reading /src/inside-link failed: %v", err)
		}
	}
	if len(leaks) > 0 {
		return sdk.Plan{
			Files:    []sdk.File{{Path: "LEAKED", Content: strings.Join(leaks, "\n")}},
			Commands: []sdk.Command{{Argv: []string{"true"}}},
		}, nil
	}
	return sdk.Plan{}, fmt.Errorf("escape attempts all failed (inside-link read %d bytes): %s", len(inside), strings.Join(denied, "; "))
}
