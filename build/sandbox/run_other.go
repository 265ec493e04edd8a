//go:build !linux

package sandbox

import (
	"context"
	"fmt"
	"runtime"
)

// Init does nothing: the sandbox exists only on Linux.
func Init() {}

// Run fails: the sandbox needs Linux namespaces.
func Run(ctx context.Context, spec Spec) error {
	if _, err := Plan(spec); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s has no Linux namespaces", ErrUnavailable, runtime.GOOS)
}
