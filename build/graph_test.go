package build_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

// fakeExecutor installs a file into the output mount of each build
// instead of running it, after waiting on hold[cell] if set; it records
// which cells' actions started.
type fakeExecutor struct {
	mu      sync.Mutex
	started map[string]chan struct{}
	hold    map[string]<-chan struct{}
}

func (f *fakeExecutor) began(cell string) chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.started[cell] == nil {
		f.started[cell] = make(chan struct{})
	}
	return f.started[cell]
}

func (f *fakeExecutor) Execute(ctx context.Context, x build.Execution) error {
	var out string
	for _, m := range x.Mounts {
		if m.Target == build.OutDir {
			out = m.Source
		}
	}
	script := x.Argv[len(x.Argv)-1]
	cell, _, _ := strings.Cut(strings.TrimPrefix(script, "#"), "\n")
	file := "root/usr/local/pgsql/bin/postgres"
	if strings.Contains(script, "USE_PGXS") {
		file = "build/pg/lib/demo.so"
		cell = "ext"
	} else if strings.Contains(script, "--without-icu") {
		cell = "pg-b" // the set that holds back
	}
	close(f.began(cell))
	if h := f.hold[cell]; h != nil {
		select {
		case <-h:
		case <-time.After(20 * time.Second):
			return errors.New("held too long: the extension never started")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	p := filepath.Join(out, file)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	// The script names sandbox paths, which no package may record.
	return os.WriteFile(p, []byte(strings.ReplaceAll(x.Argv[len(x.Argv)-1], "/build/", "/b/")), 0o755)
}

// TestExtensionPipelinesBehindItsParent: with two jobs, an extension cell
// starts as soon as its parent Postgres cell is done, while another
// Postgres cell is still building (held here until the extension's action
// has started; without pipelining it would wait for it and time out).
func TestExtensionPipelinesBehindItsParent(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(path string) lock.Input {
		sha, size, err := st.AddFile(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		return lock.Input{SHA256: sha, Size: size, SourceDateEpoch: 1700000000}
	}
	pgSrc := put(writeTarGz(t, "postgresql-15.18", map[string]string{"README": "x"}))
	pgSrc.Name, pgSrc.StripPrefix = "postgres/15.18", "postgresql-15.18"
	extSrc := put(writeTarGz(t, "demo-1.0", map[string]string{"Makefile": "EXTENSION = demo\n", "demo.control": "default_version = '1.0'\n"}))
	extSrc.Name, extSrc.StripPrefix = "extension/demo/1.0", "demo-1.0"

	a := build.Cell{Name: "postgres~15.18~regular~amd64", PostgresVersion: "15.18", Major: 15, OptionSet: "regular", Options: []string{"icu", "readline", "zlib"}, Arch: "amd64", Source: pgSrc}
	b := build.Cell{Name: "postgres~15.18~barebones~amd64", PostgresVersion: "15.18", Major: 15, OptionSet: "barebones", Arch: "amd64", Source: pgSrc}
	ext := build.ExtensionCell("demo~1.0~"+a.Name, a, extSrc, build.Extension{Name: "demo", Version: "1.0"})

	fx := &fakeExecutor{started: map[string]chan struct{}{}}
	fx.hold = map[string]<-chan struct{}{"pg-b": fx.began("ext")}
	var mu sync.Mutex
	var seq []string
	steps := map[string][]string{}
	scratch := t.TempDir()
	cfg := build.Config{
		Store: st, Executor: fx, Jobs: 2, SkipSmoke: true, ScratchDir: scratch,
		Toolchain: func(context.Context, toolchains.Cell) (build.Toolchain, error) {
			return build.Toolchain{Dir: "/nonexistent", Digest: strings.Repeat("b", 64)}, nil
		},
		Sink: event.Func(func(e event.Event) {
			if e.Kind != event.Log {
				mu.Lock()
				seq = append(seq, string(e.Kind)+" "+string(e.State)+" "+e.Item)
				if e.Kind == event.Progress && e.Unit == "steps" {
					steps[e.Item] = append(steps[e.Item], fmt.Sprintf("%d/%d %s", e.Done, e.Total, e.Line))
				}
				mu.Unlock()
			}
		}),
	}
	res, err := build.Build(ctx, cfg, []build.Cell{a, b, ext})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.State != event.StateBuilt {
			t.Errorf("%s: %s", r.Cell, r.State)
		}
	}
	// Every build removes its scratch dir (source, work, install).
	if left, _ := os.ReadDir(scratch); len(left) > 0 {
		t.Errorf("scratch dirs left after the builds: %v", left)
	}
	index := func(s string) int {
		for i, e := range seq {
			if e == s {
				return i
			}
		}
		t.Fatalf("no event %q in %q", s, seq)
		return -1
	}
	if index("started  "+ext.Name) > index("finished built "+b.Name) {
		t.Errorf("the extension started after the other Postgres cell finished: %q", seq)
	}
	// Each build reports its steps (no smoke test: SkipSmoke), in order.
	for _, c := range []string{a.Name, ext.Name} {
		if got := strings.Join(steps[c], ", "); got != "1/4 staging inputs, 2/4 building, 3/4 packaging, 4/4 recording" {
			t.Errorf("%s: steps %q", c, got)
		}
	}
	// One event sequence per node: queued, started, finished.
	for _, c := range []string{a.Name, b.Name, ext.Name} {
		if !(index("queued queued "+c) < index("started  "+c) && index("started  "+c) < index("finished built "+c)) {
			t.Errorf("%s: events out of order: %q", c, seq)
		}
	}
}

// TestGraphRequires: an extension cell may require extension cells of
// its own parent; requiring a Postgres cell, an extension of another
// parent, or a cycle is refused before anything runs (a cycle would
// otherwise wait forever).
func TestGraphRequires(t *testing.T) {
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cfg := build.Config{Store: st, Toolchain: func(context.Context, toolchains.Cell) (build.Toolchain, error) {
		return build.Toolchain{}, errors.New("not used")
	}}
	pg := func(name string) build.Cell { return build.Cell{Name: name, Arch: "amd64"} }
	ext := func(name, parent string, requires ...string) build.Cell {
		return build.Cell{Name: name, Arch: "amd64", Extension: &build.Extension{Name: name, Parent: parent, Requires: requires}}
	}
	nodes := func(cells ...build.Cell) []build.Node {
		var ns []build.Node
		for _, c := range cells {
			ns = append(ns, build.Node{Cell: c})
		}
		return ns
	}
	for _, tc := range []struct {
		name  string
		nodes []build.Node
		want  string
	}{
		{"ok", nodes(pg("p"), ext("b", "p", "a"), ext("a", "p")), ""},
		{"postgres", nodes(pg("p"), pg("q"), ext("b", "p", "q")), "b requires q, which is not an extension cell of p"},
		{"other parent", nodes(pg("p"), pg("q"), ext("a", "q"), ext("b", "p", "a")), "b requires a, which is not an extension cell of p"},
		{"missing", nodes(pg("p"), ext("b", "p", "a")), "b needs cell a, which is not in the graph"},
		{"cycle", nodes(pg("p"), ext("a", "p", "b"), ext("b", "p", "a")), "form a cycle"},
	} {
		_, err := build.DryRun(context.Background(), cfg, tc.nodes, nil)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
