package build

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/monogres/monogres/internal/event"
)

// Node is one cell of a graph and what to do with it: build it (or find it
// in the action cache), or also verify it.
type Node struct {
	Cell   Cell
	Verify bool
}

// Build builds cells (Run with every node built).
func Build(ctx context.Context, cfg Config, cells []Cell) ([]Result, error) {
	return Run(ctx, cfg, nodes(cells, false))
}

// Verify builds and verifies cells (Run with every node verified).
func Verify(ctx context.Context, cfg Config, cells []Cell) ([]Result, error) {
	return Run(ctx, cfg, nodes(cells, true))
}

func nodes(cells []Cell, verify bool) []Node {
	ns := make([]Node, len(cells))
	for i, c := range cells {
		ns[i] = Node{Cell: c, Verify: verify}
	}
	return ns
}

// Run runs a graph of cells: each node starts as soon as the cells it
// depends on (an extension cell's parent, which must be a node too) are
// done, cfg.Jobs actions at a time, each with cfg.MakeJobs make/ninja jobs.
// A cell whose action is in the action cache is not rebuilt (no sandbox
// starts); every other one is staged, built in the sandbox, smoke-tested,
// packaged into the store and recorded. A Verify node is then rebuilt
// bypassing the cache and compared (see verify). Every node reports one
// event sequence: Queued, Started when its action runs, then Finished with
// state cached, built, verified or failed (with the reason). Results are in
// the order of nodes; the error joins the failures. Without cfg.KeepGoing,
// nodes not yet started after a failure fail as not built.
func Run(ctx context.Context, cfg Config, nodes []Node) ([]Result, error) {
	e, err := newEngine(cfg)
	if err != nil {
		return nil, err
	}
	defer e.close()
	g, err := newGraph(nodes)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		e.emitter(n).Queued(n.Cell.Name)
	}
	results := g.run(ctx, e.cfg.Jobs, e.cfg.KeepGoing, func(ctx context.Context, i int, deps []Result) Result {
		return e.node(ctx, nodes[i], deps)
	}, func(i int, r Result) {
		e.emitter(nodes[i]).Finished(r.Cell, r.State, r.Err)
	})
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	return results, errors.Join(errs...)
}

// graph is the dependency structure of a node list.
type graph struct {
	names    []string
	deps     [][]int // indexes of each node's dependencies
	children [][]int
}

func newGraph(nodes []Node) (*graph, error) {
	g := &graph{names: make([]string, len(nodes)), deps: make([][]int, len(nodes)), children: make([][]int, len(nodes))}
	idx := make(map[string]int, len(nodes))
	for i, n := range nodes {
		if _, dup := idx[n.Cell.Name]; dup {
			return nil, fmt.Errorf("build: cell %s given twice", n.Cell.Name)
		}
		idx[n.Cell.Name] = i
		g.names[i] = n.Cell.Name
	}
	for i, n := range nodes {
		for k, d := range n.Cell.Deps() {
			j, ok := idx[d]
			if !ok {
				return nil, fmt.Errorf("build: cell %s needs cell %s, which is not in the graph", n.Cell.Name, d)
			}
			dc := nodes[j].Cell
			if k == 0 && dc.Extension != nil {
				return nil, fmt.Errorf("build: cell %s: parent %s is not a Postgres cell", n.Cell.Name, d)
			}
			if k > 0 && (dc.Extension == nil || dc.Extension.Parent != n.Cell.Extension.Parent) {
				return nil, fmt.Errorf("build: cell %s requires %s, which is not an extension cell of %s", n.Cell.Name, d, n.Cell.Extension.Parent)
			}
			g.deps[i] = append(g.deps[i], j)
			g.children[j] = append(g.children[j], i)
		}
	}
	if len(g.order()) < len(nodes) {
		return nil, fmt.Errorf("build: the cells' requires form a cycle")
	}
	return g, nil
}

// order is the nodes in an order where each comes after its dependencies;
// nodes on a cycle are left out.
func (g *graph) order() []int {
	pending := make([]int, len(g.names))
	var order []int
	for i := range g.names {
		if pending[i] = len(g.deps[i]); pending[i] == 0 {
			order = append(order, i)
		}
	}
	for k := 0; k < len(order); k++ {
		for _, c := range g.children[order[k]] {
			if pending[c]--; pending[c] == 0 {
				order = append(order, c)
			}
		}
	}
	return order
}

// run runs fn for every node once its dependencies finished without
// failing, jobs at a time, and calls done (serialized) as each finishes.
func (g *graph) run(ctx context.Context, jobs int, keepGoing bool, fn func(context.Context, int, []Result) Result, done func(int, Result)) []Result {
	n := len(g.names)
	results := make([]Result, n)
	pending := make([]int, n)
	ready := make(chan int, n)
	var mu sync.Mutex
	remaining := n
	stopped := "" // the first failed node, without keepGoing
	var finish func(i int, r Result)
	finish = func(i int, r Result) { // mu held
		r.Cell = g.names[i]
		results[i] = r
		done(i, r)
		if r.State == event.StateFailed && !keepGoing && stopped == "" {
			stopped = r.Cell
		}
		if remaining--; remaining == 0 {
			close(ready) // no child of i is left unfinished
		}
		for _, c := range g.children[i] {
			pending[c]--
			if r.State == event.StateFailed && results[c].State == "" {
				results[c] = Result{State: event.StateFailed, Err: fmt.Errorf("build: cell %s: dependency %s failed", g.names[c], r.Cell)}
			}
			if pending[c] == 0 {
				if results[c].State == event.StateFailed {
					finish(c, results[c])
				} else {
					ready <- c
				}
			}
		}
	}
	for i := range g.names {
		pending[i] = len(g.deps[i])
		if pending[i] == 0 {
			ready <- i
		}
	}
	if n == 0 {
		close(ready)
	}
	var wg sync.WaitGroup
	for range max(jobs, 1) {
		wg.Go(func() {
			for i := range ready {
				mu.Lock()
				s := stopped
				deps := make([]Result, len(g.deps[i]))
				for k, d := range g.deps[i] {
					deps[k] = results[d]
				}
				mu.Unlock()
				var r Result
				switch {
				case ctx.Err() != nil:
					r = Result{State: event.StateFailed, Err: fmt.Errorf("build: cell %s not built: %w", g.names[i], context.Cause(ctx))}
				case s != "":
					r = Result{State: event.StateFailed, Err: fmt.Errorf("build: cell %s not built: %s failed (keep going to build the rest)", g.names[i], s)}
				default:
					start := time.Now()
					r = fn(ctx, i, deps)
					r.Duration = time.Since(start)
				}
				mu.Lock()
				finish(i, r)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return results
}
