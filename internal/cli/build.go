package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/remote"
)

// buildFlags are shared by build and verify.
type buildFlags struct {
	opts       app.Options
	asJSON     bool
	dryRun     bool
	signingKey string
	remote     remoteFlags
}

func (b *buildFlags) register(fl *pflag.FlagSet) {
	fl.IntVarP(&b.opts.Jobs, "jobs", "j", 1, "actions run at once")
	fl.IntVar(&b.opts.MakeJobs, "make-jobs", 2, "make/ninja jobs per action")
	fl.BoolVar(&b.opts.KeepGoing, "keep-going", false, "build the other cells after one fails")
	fl.BoolVar(&b.asJSON, "json", false, "print events and results as JSON lines")
	fl.StringVar(&b.opts.Out, "out", "out", "directory that receives CELL.tar.zst and CELL.json")
	fl.BoolVar(&b.opts.Offline, "offline", false, "fetch inputs from the store and distdirs only")
	fl.StringVar(&b.opts.Scratch, "scratch", "", "directory for the build trees (default: the store's tmp); a tmpfs such as /dev/shm stages an extension cell's thousands of files several times faster where the disk is slow at metadata")
	fl.StringVar(&b.signingKey, "signing-key", "", "private key signing provenance and verification summaries (default: $MONOGRES_SIGNING_KEY, else the local builder key)")
	b.remote.register(fl, true)
	fl.BoolVar(&b.dryRun, "dry-run", false, "print each cell's action key, whether it is cached (locally, or in the remote cache: state remote) and which inputs are missing; fetch and build nothing")
}

func init() {
	register(func(e *env) *cobra.Command {
		return newBuildCmd(e, "build", "build cells (default: the manifest's default cells) hermetically and package them",
			`Build the cells named by CELL or GLOB (default: the manifest's default = [...]
cells) in the build sandbox: fetch their inputs, compose their toolchain
roots, configure, make, smoke-test and package each into out/CELL.tar.zst
with out/CELL.json. A cell whose action key is in the action cache is not
rebuilt. Extension cells bring their parent Postgres cell.`,
			`  monogres build
  monogres build 'postgres~15.18~barebones~amd64'
  monogres build 'postgres~*~regular~*' --keep-going --json
  monogres build --dry-run 'postgres~18.6~*~amd64'`)
	})
	register(func(e *env) *cobra.Command {
		return newBuildCmd(e, "verify", "rebuild cells without the cache and compare package digests",
			`Rebuild the cells (default: the manifest's default cells) bypassing the action
cache, in another scratch path, at another time and job count, and compare
the package digests with the cached build; on a mismatch, list the differing
files. Exit 1 when a cell does not reproduce.`,
			`  monogres verify 'postgres~15.18~barebones~amd64'
  monogres verify --json`)
	})
}

// newBuildCmd is build or verify: the same flags, verify bypasses the cache.
func newBuildCmd(e *env, name, short, long, example string) *cobra.Command {
	var bf buildFlags
	c := &cobra.Command{
		Use: name + " [CELL|GLOB]...", Short: short, Long: long, Example: example,
		ValidArgsFunction: e.completeCells,
		RunE: func(_ *cobra.Command, patterns []string) error {
			return runBuildOrVerify(e, name, &bf, patterns)
		},
	}
	bf.register(c.Flags())
	return c
}

func runBuildOrVerify(e *env, name string, bf *buildFlags, patterns []string) error {
	a := e.app()
	patterns, err := bf.remote.shardPatterns(a, patterns)
	if err != nil {
		return err
	}
	if bf.remote.shard != "" && len(patterns) == 0 {
		fmt.Fprintf(e.stderr, "monogres %s: shard %s has no cells\n", name, bf.remote.shard)
		return nil
	}
	g, err := a.Graph(e.ctx, patterns, name == "verify")
	if err != nil {
		return err
	}
	if bf.dryRun {
		if err := bf.remote.attach(e, g, &bf.opts, "", true); err != nil {
			return err
		}
		return dryRun(e, a, g, bf.asJSON, bf.remote.cache)
	}
	if err := bf.remote.attach(e, g, &bf.opts, bf.signingKey, false); err != nil {
		return err
	}
	var att *attester
	if bf.opts.Out != "" {
		st, err := app.OpenStore()
		if err != nil {
			return err
		}
		var cells []build.Cell
		for _, n := range g.Nodes {
			cells = append(cells, n.Cell)
		}
		att = newAttester(e, st, g.Roots, bf.signingKey, cells)
		bf.opts.Evidence = att.hook
	}
	results, err := a.Build(e.ctx, g, bf.opts, e.sink(bf.asJSON))
	bf.remote.summary(e)
	if name == "verify" && att != nil {
		if serr := att.summaries(results); serr != nil && err == nil {
			err = serr
		}
	}
	return printResults(e, name, results, err, bf.asJSON)
}

func dryRun(e *env, a *app.App, g *app.Graph, asJSON bool, rc *remote.Cache) error {
	planned, err := a.DryRun(e.ctx, g)
	if err != nil {
		return err
	}
	for _, p := range planned {
		remoteHit := rc != nil && p.ActionKey != "" && !p.Cached && probe(e, rc, p)
		if asJSON {
			json.NewEncoder(e.stdout).Encode(struct {
				build.Planned
				Remote bool `json:"remote,omitempty"` // the remote cache has a trusted entry
			}{p, remoteHit})
			continue
		}
		state := "build"
		switch {
		case p.ActionKey == "":
			state = "unknown"
		case p.Cached:
			state = "cached"
		case remoteHit:
			state = "remote"
		}
		fmt.Fprintf(e.stdout, "%-8s %s  action %s", state, p.Cell, short(p.ActionKey))
		if p.Root != "" {
			fmt.Fprintf(e.stdout, "  root %s", short(p.Root))
		}
		if p.Reason != "" {
			fmt.Fprintf(e.stdout, "  (%s)", p.Reason)
		}
		for _, m := range p.Missing {
			fmt.Fprintf(e.stdout, "\n         missing %s", m)
		}
		fmt.Fprintln(e.stdout)
	}
	return nil
}

// resultJSON is a build result in --json: the duration in seconds, the
// failure reason in full.
type resultJSON struct {
	build.Result
	Duration float64 `json:"duration"` // seconds
	Error    string  `json:"error,omitempty"`
}

func newResultJSON(r build.Result) resultJSON {
	j := resultJSON{Result: r, Duration: r.Duration.Seconds()}
	if r.Err != nil {
		j.Error = r.Err.Error()
	}
	return j
}

// printResult prints one result line. A failure gets its reason's first
// line: the log tail was printed once already, under the failed event.
func printResult(w io.Writer, r build.Result) {
	switch r.State {
	case event.StateFailed:
		reason := "failed"
		if r.Err != nil {
			reason, _, _ = strings.Cut(r.Err.Error(), "\n")
		}
		fmt.Fprintf(w, "FAILED   %s: %s (log: %s)\n", r.Cell, reason, r.Log)
		for _, d := range r.Diff {
			fmt.Fprintf(w, "         %v\n", d)
		}
	default:
		fmt.Fprintf(w, "%-8s %s  sha256:%s  %s  (%s)\n", r.State, r.Cell, short(r.Package), r.PackagePath, r.Duration.Round(time.Millisecond))
	}
}

func short(h string) string { return h[:min(16, len(h))] }
