// Command runner is built by the sandbox tests to check the documented main
// pattern: sandbox.Init first, then sandbox.Run. A copy named
// "runner-noinit" leaves Init out, to check the error that gives.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/monogres/monogres/build/sandbox"
)

func main() {
	exe, _ := os.Executable()
	if filepath.Base(exe) != "runner-noinit" {
		sandbox.Init()
	}
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: runner ROOT ARGV...")
		os.Exit(2)
	}
	err := sandbox.Run(context.Background(), sandbox.Spec{
		Root:   os.Args[1],
		Argv:   os.Args[2:],
		Env:    sandbox.DefaultEnv(0),
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "runner:", err)
		os.Exit(1)
	}
}
