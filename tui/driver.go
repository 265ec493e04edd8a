// Package tui owns the monogres terminal UI: the matrix of cells, progress
// and log tail of running work, the pending lock diff and help. It knows the
// engine only through the Driver interface below and the events of
// internal/event; it imports no engine package. Run is the single entry point.
package tui

import (
	"context"
	"time"

	"github.com/monogres/monogres/internal/event"
)

// Driver is what the TUI needs from the engine; internal/cli implements it.
//
// Every method that takes a context must return promptly once it is
// cancelled: quitting the TUI cancels running calls and Run waits for them.
// Build and Verify may be called from a goroutine other than the one that
// called Cells; the TUI never runs two Build/Verify calls at once.
type Driver interface {
	// Cells returns the matrix in display order, each cell with its state
	// as the store and action cache have it, and the lock's status.
	Cells(ctx context.Context) (Matrix, error)
	// Detail returns what is known of one cell without building it (the
	// facts `monogres info` prints) and the tail of its last build log.
	Detail(ctx context.Context, cell string) (Detail, error)
	// Build builds the named cells, sending events to sink, and returns when
	// all are done (or ctx is cancelled). Cell states are taken from the
	// events: Started/Finished with Item set to a cell name.
	Build(ctx context.Context, cells []string, sink event.Sink) error
	// Verify rebuilds the named cells without the cache and compares; events
	// as for Build.
	Verify(ctx context.Context, cells []string, sink event.Sink) error
	// Fetch puts every input the named cells need into the store, sending
	// the download events to sink.
	Fetch(ctx context.Context, cells []string, sink event.Sink) error
	// LockDiff computes the change `monogres lock` would make (or
	// `monogres lock --update NAMES` when update is non-empty) WITHOUT
	// writing anything. What it has to say goes to sink as Message events:
	// nothing but the TUI writes to the terminal.
	LockDiff(ctx context.Context, update []string, sink event.Sink) (LockDiff, error)
	// ApplyLock writes exactly the lock that d was computed for.
	ApplyLock(ctx context.Context, d LockDiff) error
	// Log returns the tail of a cell's build log: the log at path (one of
	// Detail.Logs), or its current action's when path is "" ("" if there
	// is none).
	Log(cell, path string) (string, error)
}

// Matrix is the whole build matrix and the state of the lock it comes from.
type Matrix struct {
	Cells []Cell
	// LockPath is the lock file; Stale lists why it is out of date with
	// the manifest (empty when it is current).
	LockPath string
	Stale    []string
}

// Detail is what the detail pane shows of one cell.
type Detail struct {
	Name    string
	State   event.State
	Options []string
	Dropped []Dropped
	// LockErr says why the cell cannot be built from the lock.
	LockErr string
	Inputs  []Input
	// Root is the toolchain root's package count and cache key; RootErr
	// why there is none; RootComposed whether the store has it.
	RootPackages int
	RootKey      string
	RootComposed bool
	RootErr      string
	// ActionKey, or KeyReason why it is not known yet.
	ActionKey, KeyReason string
	Cached, Verified     bool
	// PackagePath is the cached package in the store; Log the build log.
	PackagePath, Log string
	// Took is how long the cell's last build took (0: unknown).
	Took time.Duration
	// Failed is why the last build of ActionKey failed ("" when none did).
	Failed string
	// LogTail is the end of Log.
	LogTail string
	// Logs are every build log of the cell the store keeps, newest first.
	Logs []PastLog
}

// PastLog is one build log of a cell.
type PastLog struct {
	Path   string
	Key    string // action key
	Verify bool   // a verify rebuild's log
	Time   time.Time
}

// Dropped is an option the cell's option set asks for but does not get.
type Dropped struct{ Option, Reason string }

// Input is one locked input a cell needs.
type Input struct {
	Name, Version, SHA256 string
	Present               bool
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
	// Took is how long the cell's last build took (0: unknown), for ETAs.
	Took time.Duration
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
