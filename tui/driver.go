// Package tui owns the monogres terminal UI: the matrix of cells, progress
// and log tail of running work, the pending lock diff and help. It knows the
// engine only through the Driver interface below and the events of
// internal/event; it imports no engine package. Run is the single entry point.
package tui

import (
	"context"

	"github.com/monogres/monogres/internal/event"
)

// Driver is what the TUI needs from the engine; internal/cli implements it.
//
// Every method that takes a context must return promptly once it is
// cancelled: quitting the TUI cancels running calls and Run waits for them.
// Build and Verify may be called from a goroutine other than the one that
// called Cells; the TUI never runs two Build/Verify calls at once.
type Driver interface {
	// Cells returns the matrix in display order.
	Cells(ctx context.Context) ([]Cell, error)
	// Build builds the named cells, sending events to sink, and returns when
	// all are done (or ctx is cancelled). Cell states are taken from the
	// events: Started/Finished with Item set to a cell name.
	Build(ctx context.Context, cells []string, sink event.Sink) error
	// Verify rebuilds the named cells without the cache and compares; events
	// as for Build.
	Verify(ctx context.Context, cells []string, sink event.Sink) error
	// LockDiff computes the change `monogres lock` would make (or
	// `monogres lock --update NAMES` when update is non-empty) WITHOUT
	// writing anything.
	LockDiff(ctx context.Context, update []string) (LockDiff, error)
	// ApplyLock writes exactly the lock that d was computed for.
	ApplyLock(ctx context.Context, d LockDiff) error
	// Log returns the tail of a cell's build log ("" if there is none).
	Log(cell string) (string, error)
}

// Cell is one point of the build matrix.
type Cell struct {
	// Name is the cell name: "postgres~17.0~regular~amd64" or
	// "pg_similarity~1.0~postgres~15.18~regular~arm64".
	Name      string
	Postgres  string // Postgres version, "15.18"
	OptionSet string // "barebones", "minimal", "regular", "full", "debug", ...
	Arch      string // "amd64", "arm64"
	// Extension and ExtensionVersion are empty for Postgres cells.
	Extension        string
	ExtensionVersion string
	State            event.State
}

// ChangeKind says how one lock input changes.
type ChangeKind string

const (
	Added   ChangeKind = "added"
	Removed ChangeKind = "removed"
	Updated ChangeKind = "updated"
)

// InputSummary is what the lock view shows of one pinned input.
type InputSummary struct {
	Version string
	SHA256  string
	URLs    []string
}

// Change is one input of the pending lock diff. Old is zero for Added, New is
// zero for Removed.
type Change struct {
	Kind ChangeKind
	Name string // input name, "postgres/15.18", "deb/amd64/gcc-12"
	Old  InputSummary
	New  InputSummary
}

// LockDiff is the pending change of the lock file.
type LockDiff struct {
	// Path is the lock file that ApplyLock writes ("monogres.lock").
	Path    string
	Changes []Change
	// Pending is owned by the Driver (for example the new lock it computed);
	// the TUI passes it back to ApplyLock untouched so that what is written is
	// exactly what was shown.
	Pending any
}
