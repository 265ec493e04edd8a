package build

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/monogres/monogres/plugins"
	"github.com/monogres/monogres/plugins/sdk"
)

// Planned is what a dry run reports of one cell.
type Planned struct {
	Cell string `json:"cell"`
	// ActionKey is empty when it cannot be computed yet (Reason says why).
	ActionKey string `json:"action_key,omitempty"`
	// Root is the digest of the cell's composed toolchain root, one of the
	// action's inputs (with the key, what two hosts must agree on).
	Root string `json:"root,omitempty"`
	// Cached: the action cache has the key (a build would not run it).
	Cached bool `json:"cached"`
	// Missing are the lock inputs the cell needs that are not in the store.
	Missing []string `json:"missing,omitempty"`
	Reason  string   `json:"reason,omitempty"`
}

// DryRun computes the action key of every node the way Run does (an
// extension's recipe runs on its staged source, against its parent's cached
// package) and looks it up in the action cache; nothing is fetched, built
// or recorded. missing lists, per cell, the inputs absent from the store; a
// cell missing any has no key.
func DryRun(ctx context.Context, cfg Config, nodes []Node, missing map[string][]string) ([]Planned, error) {
	e, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	defer e.close()
	g, err := newGraph(nodes)
	if err != nil {
		return nil, err
	}
	out := make([]Planned, len(nodes))
	pkg := map[string]string{} // cell → cached package
	for _, i := range g.order() {
		c := nodes[i].Cell
		p := Planned{Cell: c.Name, Missing: missing[c.Name]}
		deps := make([]Result, len(c.Deps()))
		unbuilt := ""
		for k, d := range c.Deps() {
			if deps[k].Package = pkg[d]; deps[k].Package == "" && unbuilt == "" {
				unbuilt = DepKind(k) + " " + d
			}
		}
		switch {
		case len(p.Missing) > 0:
			p.Reason = "inputs missing from the store: run `monogres fetch`"
		case unbuilt != "":
			p.Reason = fmt.Sprintf("%s is not built yet: its package is an input", unbuilt)
		default:
			pr, err := e.prepare(ctx, c, deps, runOpts{scratch: e.scratch})
			if pr.dir != "" {
				os.RemoveAll(pr.dir)
			}
			if err != nil {
				p.Reason = err.Error()
				break
			}
			p.ActionKey, p.Root = pr.key, pr.tc.Digest
			hit, ok, err := Lookup(e.cfg.Store, pr.key)
			if err != nil {
				return nil, err
			}
			p.Cached = ok
			if ok {
				pkg[c.Name] = hit.Package
			}
		}
		out[i] = p
	}
	return out, nil
}

// DepKind names the k-th entry of Cell.Deps.
func DepKind(k int) string {
	if k == 0 {
		return "Postgres cell"
	}
	return "required extension cell"
}

// Prepared is a cell made ready for its sandbox by Prepare.
type Prepared struct {
	// Request is what the recipe was given (Files excepted: the host fills
	// them in).
	Request sdk.Request
	// Plan is the recipe's validated plan; Applied lists what applying it
	// changed in the extracted source.
	Plan    sdk.Plan
	Applied []plugins.Applied
	// PluginStderr is what a plugin wrote to stderr.
	PluginStderr []byte
	// Dir is the scratch dir (the caller removes it); Source is the
	// extracted source tree in it, with the plan applied.
	Dir, Source string
	// Action is the cell's action; ActionKey its key; Cached says whether
	// the action cache has it.
	Action    Action
	ActionKey string
	Cached    bool
}

// Prepare does for cell c everything a build does before the sandbox
// runs: for an extension cell it builds (or finds cached) the cells it
// depends on (deps: its parent Postgres cell and the extension cells it
// requires; none for a Postgres cell), then it extracts
// the source, builds the recipe's request, runs the recipe, checks its
// plan against the lock and applies it to the extracted tree.
// `monogres plugin run --cell` calls it, so it sees exactly what a build
// would. The caller removes Prepared.Dir, which is set whenever it was
// created, also on error.
func Prepare(ctx context.Context, cfg Config, deps []Cell, c Cell) (Prepared, error) {
	want := c.Deps()
	for i, d := range deps {
		if i >= len(want) || d.Name != want[i] {
			return Prepared{}, fmt.Errorf("build: Prepare: %s does not depend on %s", c.Name, d.Name)
		}
	}
	if len(deps) != len(want) {
		return Prepared{}, fmt.Errorf("build: Prepare: %s depends on %s", c.Name, strings.Join(want, ", "))
	}
	e, err := newEngine(cfg)
	if err != nil {
		return Prepared{}, err
	}
	defer e.close()
	var dres []Result
	if len(deps) > 0 {
		if dres, err = Build(ctx, cfg, deps); err != nil {
			return Prepared{}, fmt.Errorf("build: cell %s: %w", c.Name, err)
		}
	}
	p, err := e.prepare(ctx, c, dres, runOpts{scratch: e.scratch})
	if err == nil {
		if err = p.stageSource(ctx); err == nil {
			err = p.applyPlan()
		}
	}
	out := Prepared{Request: p.req, Applied: p.applied, PluginStderr: p.planLog, Dir: p.dir, Action: p.action, ActionKey: p.key}
	if p.dir != "" {
		out.Source = filepath.Join(p.dir, "src")
	}
	if p.plan != nil {
		out.Plan = *p.plan
	}
	if err != nil {
		return out, err
	}
	_, out.Cached, err = Lookup(e.cfg.Store, p.key)
	return out, err
}
