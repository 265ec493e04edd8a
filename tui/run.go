package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
)

// ErrInterrupted is returned by Run when the user pressed ctrl+c or the
// context given to Run was cancelled (SIGINT); the CLI maps it to exit
// status 130.
var ErrInterrupted = errors.New("interrupted")

// Options configure Run. The zero value is a normal interactive session.
type Options struct {
	// NoColor draws without colour (glyphs still carry every state). Run
	// also turns it on when the NO_COLOR environment variable is non-empty.
	NoColor bool
	// LockUpdate is passed to Driver.LockDiff: nil for a full `monogres
	// lock`, names for `monogres lock --update NAMES`.
	LockUpdate []string
	// Input and Output default to the terminal (stdin/stdout, or /dev/tty).
	Input  io.Reader
	Output io.Writer
}

// Run shows the UI until the user quits. It returns nil after q,
// ErrInterrupted (wrapped) after ctrl+c or when ctx is cancelled, and other
// errors if the terminal cannot be used. On return the terminal is restored
// and every Driver call the UI started has returned: running work is
// cancelled through its context first.
func Run(ctx context.Context, d Driver, opts Options) error {
	if os.Getenv("NO_COLOR") != "" {
		opts.NoColor = true
	}
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := newModel(rctx, d, opts)
	popts := []tea.ProgramOption{tea.WithContext(ctx)}
	if opts.Input != nil {
		popts = append(popts, tea.WithInput(opts.Input))
	}
	if opts.Output != nil {
		popts = append(popts, tea.WithOutput(opts.Output))
	}
	if opts.NoColor {
		popts = append(popts, tea.WithColorProfile(colorprofile.Ascii))
	}
	_, err := tea.NewProgram(m, popts...).Run()
	// Stop the work, unblock emitters, wait for every Driver call.
	cancel()
	close(m.done)
	m.calls.close()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%w: %w", ErrInterrupted, ctx.Err())
	case errors.Is(err, tea.ErrInterrupted), m.interrupted:
		return ErrInterrupted
	case err != nil:
		return fmt.Errorf("terminal UI: %w", err)
	}
	return nil
}
