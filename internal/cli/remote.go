package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/shard"
	"github.com/monogres/monogres/remote"
)

// remoteFlags select the shared cache (and, for build, a shard).
type remoteFlags struct {
	url      string
	readOnly bool
	shard    string
	cache    *remote.Cache
}

func (r *remoteFlags) register(fl *pflag.FlagSet, withShard bool) {
	fl.StringVar(&r.url, "remote-cache", "", "shared cache URL (Bazel HTTP cache protocol; default: $"+remote.EnvURL+", else remote_cache in the manifest)")
	fl.BoolVar(&r.readOnly, "remote-cache-read-only", false, "use the shared cache without uploading to it (also $"+remote.EnvReadOnly+"=1)")
	if withShard {
		fl.StringVar(&r.shard, "shard", "", "build only shard K/N of the selected cells (deterministic, cost-balanced; see docs/distributed.md)")
	}
}

// shardPatterns narrows patterns to this machine's shard: the names of
// its cells (an empty shard is an error the caller reports as nothing to do).
func (r *remoteFlags) shardPatterns(a *app.App, patterns []string) ([]string, error) {
	if r.shard == "" {
		return patterns, nil
	}
	s, err := shard.Parse(r.shard)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	_, cells, err := a.Select(patterns)
	if err != nil {
		return nil, err
	}
	names := []string{} // not nil: an empty shard selects nothing
	for _, c := range shard.Select(cells, s) {
		names = append(names, c.Name)
	}
	return names, nil
}

// attach sets o.Remote from the flags, the environment and the manifest
// of g; warnings go to stderr, one line each.
func (r *remoteFlags) attach(e *env, g *app.Graph, o *app.Options, signingKey string, readOnly bool) error {
	var mu sync.Mutex
	c, err := remote.New(remote.Settings{
		URL: r.url, ManifestURL: g.Manifest.RemoteCache, ReadOnly: r.readOnly || readOnly,
		SigningKey: signingKey, TrustedKeys: g.Manifest.TrustedKeys,
		Warn: func(s string) {
			mu.Lock()
			fmt.Fprintln(e.stderr, s)
			mu.Unlock()
		},
	})
	if err != nil {
		return err
	}
	if c != nil {
		r.cache, o.Remote = c, c
	}
	return nil
}

// probe says whether the remote cache has a trusted entry for p (a dry
// run's "remote" state); a refused entry is a warning line and the cell
// stays "build".
func probe(e *env, rc *remote.Cache, p build.Planned) bool {
	ok, err := rc.Probe(e.ctx, p.Cell, p.ActionKey)
	if err != nil {
		rc.Warn(fmt.Sprintf("WARNING: cell %s: %v; a build would build it locally", p.Cell, err))
	}
	return ok
}

// summary says what the shared cache did in this run.
func (r *remoteFlags) summary(e *env) {
	if c := r.cache; c != nil {
		fmt.Fprintf(e.stderr, "remote cache %s: %d hits, %d misses, %d refused, %d uploaded\n",
			c.Client.URL(), c.Hits.Load(), c.Misses.Load(), c.Refused.Load(), c.Uploaded.Load())
	}
}

func init() {
	register(newPullCmd)
	register(newInstallCmd)
}

func newPullCmd(e *env) *cobra.Command {
	var rf remoteFlags
	var opts app.Options
	var asJSON bool
	c := &cobra.Command{
		Use:   "pull [CELL|GLOB]...",
		Short: "download cells' packages from the shared cache (signatures checked) instead of building them",
		Long: `Download the packages of the cells named (default: the manifest's default
cells) for the current lock from the shared cache into the store and out/:
each cell's action key is computed as a build would (inputs are fetched and
toolchain roots composed), its cache entry must be signed by a trusted key
(trusted_keys in monogres.toml, $MONOGRES_TRUSTED_KEYS) and its blobs must
hash to what the entry says. Nothing is built: a cell the cache lacks (or
whose entry is refused) fails. Nothing is uploaded.`,
		Example: `  monogres pull --remote-cache https://cache.example.com/monogres
  monogres pull 'postgres~15.18~*~amd64'`,
		ValidArgsFunction: e.completeCells,
		RunE: func(_ *cobra.Command, patterns []string) error {
			a := e.app()
			g, err := a.Graph(e.ctx, patterns, false)
			if err != nil {
				return err
			}
			if err := rf.attach(e, g, &opts, "", true); err != nil {
				return err
			}
			if opts.Remote == nil {
				return usageError{"pull: no shared cache: pass --remote-cache URL, set " + remote.EnvURL + " or remote_cache in the manifest"}
			}
			opts.RemoteOnly, opts.KeepGoing = true, true
			results, err := a.Build(e.ctx, g, opts, e.sink(asJSON))
			rf.summary(e)
			return printResults(e, "pull", results, err, asJSON)
		},
	}
	rf.register(c.Flags(), false)
	c.Flags().IntVarP(&opts.Jobs, "jobs", "j", 4, "cells pulled at once")
	c.Flags().StringVar(&opts.Out, "out", "out", "directory that receives CELL.tar.zst and CELL.json")
	c.Flags().BoolVar(&opts.Offline, "offline", false, "fetch inputs from the store and distdirs only")
	c.Flags().BoolVar(&asJSON, "json", false, "print events and results as JSON lines")
	return c
}

func newInstallCmd(e *env) *cobra.Command {
	var rf remoteFlags
	var opts app.Options
	var signingKey string
	var asJSON bool
	c := &cobra.Command{
		Use:   "install CELL DIR",
		Short: "extract a cell's package (from the store, the shared cache, or by building it) into DIR, ready to run",
		Long: `Get the package of CELL the way build does (the store's action cache, then
the shared cache if one is configured, else build it) and extract it into
DIR, which must not exist or be empty. An extension cell is installed
together with its Postgres package. DIR/bin/initdb and DIR/bin/postgres run
from there (no LD_LIBRARY_PATH needed).`,
		Example: `  monogres install postgres~15.18~barebones~amd64 /opt/pg15
  /opt/pg15/bin/initdb -D /tmp/data`,
		Args:              exactArgs(2),
		ValidArgsFunction: e.completeCells,
		RunE: func(_ *cobra.Command, args []string) error {
			cell, dir := args[0], args[1]
			if strings.ContainsAny(cell, "*?[") {
				return usageError{"install: give one cell name, not a pattern"}
			}
			if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
				return usageError{fmt.Sprintf("install: %s is not empty", dir)}
			}
			a := e.app()
			g, err := a.Graph(e.ctx, []string{cell}, false)
			if err != nil {
				return err
			}
			if err := rf.attach(e, g, &opts, signingKey, false); err != nil {
				return err
			}
			opts.Out = ""
			results, err := a.Build(e.ctx, g, opts, e.sink(asJSON))
			rf.summary(e)
			if err != nil {
				return printResults(e, "install", results, err, asJSON)
			}
			var pkgs []string // the Postgres package first
			for i, n := range g.Nodes {
				if n.Cell.Extension == nil {
					pkgs = append([]string{results[i].Package}, pkgs...)
				} else if n.Cell.Name == cell {
					pkgs = append(pkgs, results[i].Package)
				}
			}
			st, err := app.OpenStore()
			if err != nil {
				return err
			}
			if err := build.Install(e.ctx, st, dir, pkgs...); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "installed %s into %s\n", cell, dir)
			return nil
		},
	}
	rf.register(c.Flags(), false)
	c.Flags().StringVar(&signingKey, "signing-key", "", "private key signing what a build uploads to the shared cache (default: $MONOGRES_SIGNING_KEY, else the local builder key)")
	c.Flags().IntVar(&opts.MakeJobs, "make-jobs", 2, "make/ninja jobs if the cell is built")
	c.Flags().BoolVar(&opts.Offline, "offline", false, "fetch inputs from the store and distdirs only")
	c.Flags().BoolVar(&asJSON, "json", false, "print events as JSON lines")
	return c
}

// printResults prints one line (or JSON object) per result and turns a
// failed cell into exit 1.
func printResults(e *env, name string, results []build.Result, err error, asJSON bool) error {
	for _, r := range results {
		if asJSON {
			json.NewEncoder(e.stdout).Encode(newResultJSON(r))
			continue
		}
		printResult(e.stdout, r)
	}
	if err != nil && results == nil {
		return err
	}
	for _, r := range results {
		if r.State == event.StateFailed {
			return exitError{exitFail, fmt.Sprintf("monogres %s: %s failed", name, r.Cell)}
		}
	}
	return err
}
