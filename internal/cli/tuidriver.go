package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"

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
// manifest on every call so edits show up without restarting.
type driver struct {
	e    *env
	mu   sync.Mutex
	logs map[string]string // cell → log file of its last build
}

func (d *driver) Cells(ctx context.Context) ([]tui.Cell, error) {
	cells, err := d.e.app().Cells(ctx)
	out := make([]tui.Cell, len(cells))
	for i, c := range cells {
		out[i] = tui.Cell{Name: c.Name, Postgres: c.Postgres.String(), OptionSet: string(c.OptionSet),
			Arch: string(c.Arch), Extension: c.Extension, ExtensionVersion: c.ExtensionVersion, State: c.State}
	}
	return out, err
}

func (d *driver) run(ctx context.Context, names []string, verify bool, sink event.Sink) error {
	a := d.e.app()
	g, err := a.Graph(ctx, names, verify)
	if err != nil {
		return err
	}
	results, err := a.Build(ctx, g, app.Options{Jobs: 1, MakeJobs: 2, KeepGoing: true, Out: "out"}, sink)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.logs == nil {
		d.logs = map[string]string{}
	}
	for _, r := range results {
		if r.Log != "" {
			d.logs[r.Cell] = r.Log
		}
	}
	return err
}

func (d *driver) Build(ctx context.Context, cells []string, sink event.Sink) error {
	return d.run(ctx, cells, false, sink)
}

func (d *driver) Verify(ctx context.Context, cells []string, sink event.Sink) error {
	return d.run(ctx, cells, true, sink)
}

// pendingLock is what LockDiff computed and ApplyLock writes.
type pendingLock struct {
	path string
	data []byte
}

func (d *driver) LockDiff(ctx context.Context, update []string) (tui.LockDiff, error) {
	e := *d.e
	e.ctx = ctx
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

// Log returns the last 40 lines of the cell's log from its last build in
// this session.
func (d *driver) Log(cell string) (string, error) {
	d.mu.Lock()
	path := d.logs[cell]
	d.mu.Unlock()
	if path == "" {
		return "", nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n"), nil
}
