package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/app"

	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/tui"
)

func init() { register(newTUICmd) }

func newTUICmd(e *env) *cobra.Command {
	var update []string
	c := &cobra.Command{
		Use:     "tui",
		Short:   "open the terminal UI (also: monogres with no arguments on a terminal)",
		Example: "  monogres tui\n  monogres tui --update toolchain",
		Args:    noArgs,
		RunE:    func(*cobra.Command, []string) error { return runTUI(e, update) },
	}
	c.Flags().StringArrayVar(&update, "update", nil, "show the lock diff of `monogres lock --update NAME` (repeatable)")
	c.RegisterFlagCompletionFunc("update", e.completeInputs)
	return c
}

func runTUI(e *env, update []string) error {
	err := tui.Run(e.ctx, &driver{e: e}, tui.Options{LockUpdate: update})
	if errors.Is(err, tui.ErrInterrupted) {
		return exitError{code: exitInterrupt}
	}
	return err
}

// driver gives the TUI the engine through tui.Driver; it reloads the
// manifest on every call so edits show up without restarting. While the
// TUI runs nothing may write to the terminal: what the commands' code
// would print goes to the TUI as Message events (see quiet).
type driver struct {
	e *env
}

// quiet is the env with stdout and stderr turned into Message events to
// sink (event.Discard when nil); flush emits a last unterminated line.
func (d *driver) quiet(ctx context.Context, sink event.Sink) (e *env, flush func()) {
	if sink == nil {
		sink = event.Discard
	}
	em := event.Emitter{Sink: sink, Phase: event.PhaseLock}
	w := &build.LineWriter{Emit: em.Message}
	c := *d.e
	c.ctx, c.stdout, c.stderr = ctx, w, w
	c.setPaths()
	return &c, w.Flush
}

func (d *driver) Cells(ctx context.Context) (tui.Matrix, error) {
	e, flush := d.quiet(ctx, nil)
	defer flush()
	s, err := e.app().Status(ctx)
	if err != nil {
		return tui.Matrix{}, err
	}
	mx := tui.Matrix{LockPath: s.LockPath, Stale: s.Stale, Cells: make([]tui.Cell, len(s.Cells))}
	if s.NoLock {
		mx.Stale = []string{"there is no lock: run `monogres lock` (L shows what it would pin)"}
	}
	for i, c := range s.Cells {
		mx.Cells[i] = tui.Cell{Name: c.Name, Postgres: c.Postgres.String(), OptionSet: string(c.OptionSet),
			Arch: string(c.Arch), Extension: c.Extension, ExtensionVersion: c.ExtensionVersion, State: c.State, Took: c.Took}
	}
	return mx, nil
}

// logTail is how many log lines the detail carries.
const logTail = 200

func (d *driver) Detail(ctx context.Context, cell string) (tui.Detail, error) {
	e, flush := d.quiet(ctx, nil)
	defer flush()
	in, err := e.app().Info(ctx, cell)
	if err != nil {
		return tui.Detail{}, err
	}
	det := tui.Detail{
		Name: in.Name, State: in.State, LockErr: in.LockErr,
		RootPackages: len(in.Root), RootKey: in.RootKey, RootComposed: in.RootComposed, RootErr: in.RootErr,
		ActionKey: in.ActionKey, KeyReason: in.KeyReason, Cached: in.Cached, Verified: in.Verified,
		PackagePath: in.PackagePath, Log: in.Log, Took: in.Took, Failed: in.Failed,
	}
	for _, o := range in.Options {
		det.Options = append(det.Options, string(o))
	}
	for _, x := range in.Dropped {
		det.Dropped = append(det.Dropped, tui.Dropped{Option: string(x.Option), Reason: x.Reason})
	}
	for _, x := range in.Inputs {
		det.Inputs = append(det.Inputs, tui.Input{Name: x.Name, Version: x.Version, SHA256: x.SHA256, Present: x.Present})
	}
	for _, l := range in.Logs {
		det.Logs = append(det.Logs, tui.PastLog{Path: l.Path, Key: l.ActionKey, Verify: l.Verify, Time: l.Time})
	}
	if in.Log != "" {
		if det.LogTail, err = app.LogTail(in.Log, logTail); err != nil {
			det.LogTail = "(cannot read the log: " + err.Error() + ")"
		}
	}
	return det, nil
}

func (d *driver) run(ctx context.Context, names []string, verify bool, sink event.Sink) error {
	e, flush := d.quiet(ctx, sink)
	defer flush()
	a := e.app()
	g, err := a.Graph(ctx, names, verify)
	if err != nil {
		return err
	}
	_, err = a.Build(ctx, g, app.Options{Jobs: 1, MakeJobs: 2, KeepGoing: true, Out: "out"}, sink)
	return err
}

func (d *driver) Build(ctx context.Context, cells []string, sink event.Sink) error {
	return d.run(ctx, cells, false, sink)
}

func (d *driver) Verify(ctx context.Context, cells []string, sink event.Sink) error {
	return d.run(ctx, cells, true, sink)
}

func (d *driver) Fetch(ctx context.Context, cells []string, sink event.Sink) error {
	e, flush := d.quiet(ctx, sink)
	defer flush()
	_, err := e.app().Fetch(ctx, cells, sink)
	return err
}

// pendingLock is what LockDiff computed and ApplyLock writes.
type pendingLock struct {
	path string
	data []byte
}

func (d *driver) LockDiff(ctx context.Context, update []string, sink event.Sink) (tui.LockDiff, error) {
	e, flush := d.quiet(ctx, sink)
	defer flush()
	m, err := manifest.Load(e.manifestPath)
	if err != nil {
		return tui.LockDiff{}, err
	}
	_, old, err := app.ReadLock(e.lockPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return tui.LockDiff{}, err
	}
	res, err := lock.Resolve(ctx, m, old, lock.Options{Update: update, Hash: e.hashInput(m), Toolchain: e.resolveToolchain})
	if err != nil {
		return tui.LockDiff{}, err
	}
	data, err := lock.Encode(res.Lock)
	if err != nil {
		return tui.LockDiff{}, err
	}
	diff := tui.LockDiff{Path: e.lockPath, Pending: pendingLock{e.lockPath, data}}
	for _, c := range lock.Diff(old, res.Lock) {
		diff.Changes = append(diff.Changes, tui.Change{Kind: tui.ChangeKind(c.Kind), Name: c.Name, Old: summary(c.Old), New: summary(c.New)})
	}
	return diff, nil
}

func summary(in *lock.Input) tui.InputSummary {
	if in == nil {
		return tui.InputSummary{}
	}
	return tui.InputSummary{Version: in.Version, SHA256: in.SHA256, URLs: in.URLs}
}

func (d *driver) ApplyLock(ctx context.Context, diff tui.LockDiff) error {
	p, ok := diff.Pending.(pendingLock)
	if !ok {
		return fmt.Errorf("lock diff was not computed by this driver")
	}
	return writeFileAtomic(p.path, p.data)
}

// Log returns the end of a build log of the cell from the store: the one
// at path, or its current action's.
func (d *driver) Log(cell, path string) (string, error) {
	e, flush := d.quiet(d.e.ctx, nil)
	defer flush()
	in, err := e.app().Info(e.ctx, cell)
	if err != nil {
		return "", err
	}
	if path == "" {
		path = in.Log
	} else if !slices.ContainsFunc(in.Logs, func(l app.PastLog) bool { return l.Path == path }) {
		return "", fmt.Errorf("%s is not a log of %s", path, cell)
	}
	if path == "" {
		return "", nil
	}
	return app.LogTail(path, 5000)
}
