// Command fakemonogres runs the real terminal UI (tui.Run) over a small
// fake engine, so the end-to-end test can drive a real binary in a real
// terminal before the monogres CLI is wired. It behaves like monogres on a
// tiny project in the current directory:
//
//	monogres.toml   [postgres] versions/option_sets/arches, [[extension]] name/version
//	monogres.lock   JSON, written by `fakemonogres lock` and by accepting the lock view
//	.fake/          cell states and build logs
//
// `fakemonogres tui` opens the UI; `fakemonogres lock` writes the lock.
// FAKEMONOGRES_STEP sets the duration of one build step (default 100ms);
// FAKEMONOGRES_PIDFILE, when set, names a file to write the process id to.
// Exit status: 0, 1 on error, 130 when interrupted.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/tui"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	step := 100 * time.Millisecond
	if s := os.Getenv("FAKEMONOGRES_STEP"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			fmt.Fprintf(stderr, "fakemonogres: FAKEMONOGRES_STEP: %v\n", err)
			return 2
		}
		step = d
	}
	if f := os.Getenv("FAKEMONOGRES_PIDFILE"); f != "" {
		if err := os.WriteFile(f, []byte(fmt.Sprint(os.Getpid())), 0o644); err != nil {
			fmt.Fprintf(stderr, "fakemonogres: %v\n", err)
			return 2
		}
	}
	d := &driver{dir: ".", step: step}
	var err error
	switch {
	case len(args) == 1 && args[0] == "tui":
		err = tui.Run(ctx, d, tui.Options{})
	case len(args) == 1 && args[0] == "lock":
		var diff tui.LockDiff
		if diff, err = d.LockDiff(ctx, nil); err == nil {
			err = d.ApplyLock(ctx, diff)
		}
	default:
		fmt.Fprintln(stderr, "usage: fakemonogres tui|lock")
		return 2
	}
	switch {
	case errors.Is(err, tui.ErrInterrupted):
		return 130
	case err != nil:
		fmt.Fprintf(stderr, "fakemonogres: %v\n", err)
		return 1
	}
	return 0
}

type manifest struct {
	Postgres struct {
		Versions   []string `toml:"versions"`
		OptionSets []string `toml:"option_sets"`
		Arches     []string `toml:"arches"`
	} `toml:"postgres"`
	Extension []struct {
		Name    string `toml:"name"`
		Version string `toml:"version"`
	} `toml:"extension"`
}

type input struct {
	Name    string   `json:"name"`
	Version string   `json:"version"`
	SHA256  string   `json:"sha256"`
	URLs    []string `json:"urls"`
}

type lockFile struct {
	Inputs []input `json:"inputs"`
}

type driver struct {
	dir  string
	step time.Duration
	mu   sync.Mutex
}

func (d *driver) path(p ...string) string { return filepath.Join(append([]string{d.dir}, p...)...) }

func (d *driver) manifest() (manifest, error) {
	var m manifest
	_, err := toml.DecodeFile(d.path("monogres.toml"), &m)
	return m, err
}

func major(v string) string { return strings.SplitN(v, ".", 2)[0] }

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// inputs are what the manifest pins: one source per Postgres major, one per
// extension.
func (m manifest) inputs() []input {
	var in []input
	for _, v := range m.Postgres.Versions {
		in = append(in, input{Name: "postgres/" + major(v), Version: v, SHA256: sum("postgres-" + v),
			URLs: []string{fmt.Sprintf("https://ftp.postgresql.org/pub/source/v%s/postgresql-%s.tar.bz2", v, v)}})
	}
	for _, e := range m.Extension {
		in = append(in, input{Name: e.Name, Version: e.Version, SHA256: sum(e.Name + "-" + e.Version),
			URLs: []string{fmt.Sprintf("https://deb.debian.org/debian/pool/main/p/%s/%s_%s.orig.tar.gz", e.Name, e.Name, e.Version)}})
	}
	return in
}

func (d *driver) states() map[string]event.State {
	st := map[string]event.State{}
	if b, err := os.ReadFile(d.path(".fake", "states.json")); err == nil {
		_ = json.Unmarshal(b, &st)
	}
	return st
}

func (d *driver) setState(cell string, s event.State) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.states()
	st[cell] = s
	b, _ := json.Marshal(st)
	if err := os.MkdirAll(d.path(".fake"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(d.path(".fake", "states.json"), b, 0o644)
}

func (d *driver) Cells(ctx context.Context) ([]tui.Cell, error) {
	m, err := d.manifest()
	if err != nil {
		return nil, err
	}
	st := d.states()
	var cells []tui.Cell
	for _, v := range m.Postgres.Versions {
		exts := append([]struct{ Name, Version string }{{}}, func() (x []struct{ Name, Version string }) {
			for _, e := range m.Extension {
				x = append(x, struct{ Name, Version string }{e.Name, e.Version})
			}
			return
		}()...)
		for _, e := range exts {
			for _, o := range m.Postgres.OptionSets {
				for _, a := range m.Postgres.Arches {
					name := fmt.Sprintf("postgres~%s~%s~%s", v, o, a)
					if e.Name != "" {
						name = fmt.Sprintf("%s~%s~%s", e.Name, e.Version, name)
					}
					s := st[name]
					if s == "" {
						s = event.StateLocked
					}
					cells = append(cells, tui.Cell{Name: name, Postgres: v, OptionSet: o, Arch: a,
						Extension: e.Name, ExtensionVersion: e.Version, State: s})
				}
			}
		}
	}
	return cells, nil
}

func (d *driver) Build(ctx context.Context, cells []string, sink event.Sink) error {
	return d.run(ctx, event.PhaseBuild, event.StateBuilt, cells, sink)
}

func (d *driver) Verify(ctx context.Context, cells []string, sink event.Sink) error {
	return d.run(ctx, event.PhaseVerify, event.StateVerified, cells, sink)
}

// run "builds" each cell in a few timed steps, logging each step to the
// events and to .fake/logs/CELL.log.
func (d *driver) run(ctx context.Context, phase event.Phase, done event.State, cells []string, sink event.Sink) error {
	fetch := event.Emitter{Sink: sink, Phase: event.PhaseFetch}
	em := event.Emitter{Sink: sink, Phase: phase}
	const steps = 5
	if err := os.MkdirAll(d.path(".fake", "logs"), 0o755); err != nil {
		return err
	}
	for _, c := range cells {
		src := "postgres/" + major(strings.Split(c, "~")[len(strings.Split(c, "~"))-3])
		fetch.Started(src)
		for i := int64(1); i <= 4; i++ {
			fetch.Progress(src, "bytes", i*6<<20, 24<<20)
		}
		fetch.Finished(src, event.StateFetched, nil)

		em.Started(c)
		var log []string
		for i := int64(1); i <= steps; i++ {
			select {
			case <-ctx.Done():
				_ = os.WriteFile(d.path(".fake", "cancelled"), []byte(c+"\n"), 0o644)
				em.Finished(c, event.StateFailed, ctx.Err())
				return ctx.Err()
			case <-time.After(d.step):
			}
			line := fmt.Sprintf("[%d/%d] %s %s", i, steps, phase, c)
			log = append(log, line)
			em.Log(c, line)
			em.Progress(c, "steps", i, steps)
		}
		line := fmt.Sprintf("%s of %s complete", phase, c)
		log = append(log, line)
		em.Log(c, line)
		if err := os.WriteFile(d.path(".fake", "logs", c+".log"), []byte(strings.Join(log, "\n")+"\n"), 0o644); err != nil {
			return err
		}
		if err := d.setState(c, done); err != nil {
			return err
		}
		em.Finished(c, done, nil)
	}
	return nil
}

func (d *driver) readLock() (lockFile, error) {
	var l lockFile
	b, err := os.ReadFile(d.path("monogres.lock"))
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return l, err
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return l, fmt.Errorf("monogres.lock: %w", err)
	}
	return l, nil
}

func summary(in input) tui.InputSummary {
	return tui.InputSummary{Version: in.Version, SHA256: in.SHA256, URLs: in.URLs}
}

func (d *driver) LockDiff(ctx context.Context, update []string) (tui.LockDiff, error) {
	m, err := d.manifest()
	if err != nil {
		return tui.LockDiff{}, err
	}
	old, err := d.readLock()
	if err != nil {
		return tui.LockDiff{}, err
	}
	oldBy := map[string]input{}
	for _, in := range old.Inputs {
		oldBy[in.Name] = in
	}
	want := m.inputs()
	var next lockFile
	diff := tui.LockDiff{Path: "monogres.lock"}
	seen := map[string]bool{}
	for _, in := range want {
		seen[in.Name] = true
		o, had := oldBy[in.Name]
		if len(update) > 0 && !slices.Contains(update, in.Name) && had {
			next.Inputs = append(next.Inputs, o) // not asked to update: keep
			continue
		}
		next.Inputs = append(next.Inputs, in)
		switch {
		case !had:
			diff.Changes = append(diff.Changes, tui.Change{Kind: tui.Added, Name: in.Name, New: summary(in)})
		case o.Version != in.Version || o.SHA256 != in.SHA256 || !slices.Equal(o.URLs, in.URLs):
			diff.Changes = append(diff.Changes, tui.Change{Kind: tui.Updated, Name: in.Name, Old: summary(o), New: summary(in)})
		}
	}
	for _, o := range old.Inputs {
		if !seen[o.Name] {
			diff.Changes = append(diff.Changes, tui.Change{Kind: tui.Removed, Name: o.Name, Old: summary(o)})
		}
	}
	diff.Pending = next
	return diff, nil
}

func (d *driver) ApplyLock(ctx context.Context, diff tui.LockDiff) error {
	next, ok := diff.Pending.(lockFile)
	if !ok {
		return errors.New("ApplyLock: the diff was not computed by this driver")
	}
	b, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return err
	}
	tmp := d.path("monogres.lock.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, d.path("monogres.lock"))
}

func (d *driver) Log(cell string) (string, error) {
	b, err := os.ReadFile(d.path(".fake", "logs", cell+".log"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return string(b), err
}
