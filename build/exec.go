package build

import (
	"context"
	"io"

	"github.com/monogres/monogres/build/sandbox"
)

// Executor runs one command of an action: its argv, environment and
// working directory (Action.Command, plus what is not part of the key such
// as the job count) in the root whose digest the action names, with the
// action's input tree staged at Mounts. Local is the first implementation;
// a remote one would upload the tree and fetch the output paths.
type Executor interface {
	Execute(ctx context.Context, x Execution) error
}

// Execution is one command to run.
type Execution struct {
	Limits   sandbox.Limits   // zero fields: sandbox.DefaultLimits
	Root     string           // host directory of the root
	Binfmt   []sandbox.Binfmt // emulators for foreign programs (Emulation)
	Mounts   []sandbox.Mount
	Argv     []string
	Env      []string // KEY=VALUE
	Dir      string
	UID, GID int // 0: root in the sandbox
	Output   io.Writer
}

// Local runs executions in the build sandbox on this machine.
type Local struct{}

// Execute runs x with sandbox.Run.
func (Local) Execute(ctx context.Context, x Execution) error {
	return sandbox.Run(ctx, sandbox.Spec{
		Limits: x.Limits, Root: x.Root, Binfmt: x.Binfmt, Mounts: x.Mounts, Argv: x.Argv, Env: x.Env, Dir: x.Dir,
		UID: x.UID, GID: x.GID, Stdout: x.Output, Stderr: x.Output,
	})
}
