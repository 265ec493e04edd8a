package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/build/extension"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/plan"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

// buildFlags are shared by build and verify.
type buildFlags struct {
	jobs, makeJobs int
	keepGoing      bool
	asJSON         bool
	out            string
	offline        bool
	signingKey     string
}

func (b *buildFlags) register(e *env, name string) *flag.FlagSet {
	fl := flags(name, e.stderr)
	fl.IntVar(&b.jobs, "j", 1, "cells built at once")
	fl.IntVar(&b.makeJobs, "make-jobs", 2, "make/ninja jobs per cell")
	fl.BoolVar(&b.keepGoing, "keep-going", false, "build the other cells after one fails")
	fl.BoolVar(&b.asJSON, "json", false, "print events and results as JSON lines")
	fl.StringVar(&b.out, "out", "out", "directory that receives CELL.tar.zst and CELL.json")
	fl.BoolVar(&b.offline, "offline", false, "fetch inputs from the store and distdirs only")
	fl.StringVar(&b.signingKey, "signing-key", "", "private key signing provenance and verification summaries (default: $MONOGRES_SIGNING_KEY, else the local builder key)")
	return fl
}

func runBuild(e *env, args []string) error { return runBuildOrVerify(e, "build", args) }

func runVerify(e *env, args []string) error { return runBuildOrVerify(e, "verify", args) }

func runBuildOrVerify(e *env, name string, args []string) error {
	var bf buildFlags
	fl := bf.register(e, name)
	patterns, err := parse(fl, args)
	if err != nil {
		return err
	}
	m, cells, err := e.selectCells(patterns)
	if err != nil {
		return err
	}
	sink := e.sink(bf.asJSON)
	results, err := e.runCells(m, cells, name == "verify", bf, sink)
	if rerr := e.registerBuilds(results); rerr != nil && err == nil {
		err = rerr
	}
	for _, r := range results {
		if bf.asJSON {
			json.NewEncoder(e.stdout).Encode(r)
			continue
		}
		printResult(e.stdout, r)
	}
	if err != nil {
		return err
	}
	for _, r := range results {
		if r.State == event.StateFailed {
			return exitError{exitFail, fmt.Sprintf("monogres %s: %s failed", name, r.Cell)}
		}
	}
	return nil
}

// registerBuilds records the action keys of the cells built or found
// cached under this lock's store registration, so `store gc` keeps their
// packages and logs.
func (e *env) registerBuilds(results []build.Result) error {
	actions := map[string]string{}
	for _, r := range results {
		if r.ActionKey != "" && r.Package != "" {
			actions[r.Cell] = r.ActionKey
		}
	}
	if len(actions) == 0 {
		return nil
	}
	st, err := e.openStore()
	if err != nil {
		return err
	}
	return st.Register(e.lockPath, actions)
}

func printResult(w io.Writer, r build.Result) {
	switch r.State {
	case event.StateFailed:
		fmt.Fprintf(w, "FAILED   %s: %v (log: %s)\n", r.Cell, r.Err, r.Log)
		for _, d := range r.Diff {
			fmt.Fprintf(w, "         %v\n", d)
		}
	default:
		fmt.Fprintf(w, "%-8s %s  sha256:%s  %s  (%s)\n", r.State, r.Cell, short(r.Package), r.PackagePath, r.Duration.Round(time.Millisecond))
	}
}

func short(h string) string { return h[:min(16, len(h))] }

// setupCells checks the lock, fetches what the cells need and returns the
// engine config with the Postgres and extension cells to build. Builds and
// `plugin run --cell` both start here.
func (e *env) setupCells(m *manifest.Manifest, cells []plan.Cell, bf buildFlags, sink event.Sink) (cfg build.Config, l *lock.Lock, bcells []build.Cell, ecells []extension.Cell, err error) {
	fail := func(err error) (build.Config, *lock.Lock, []build.Cell, []extension.Cell, error) {
		return build.Config{}, nil, nil, nil, err
	}
	lockBytes, l, err := readLock(e.lockPath)
	if err != nil {
		return fail(fmt.Errorf("%v (run `monogres lock` first)", err))
	}
	if reasons, _, err := lock.Check(e.ctx, m, l); err != nil {
		return fail(err)
	} else if len(reasons) > 0 {
		return fail(fmt.Errorf("%s is out of date (%s): run `monogres lock`", e.lockPath, reasons[0]))
	}
	st, err := e.openStore()
	if err != nil {
		return fail(err)
	}
	if err := st.Register(e.lockPath, nil); err != nil {
		return fail(err)
	}
	need := map[string]lock.Input{}
	roots := toolchains.FromLock(l)
	for _, c := range cells {
		// The .debs of the cell's root (a dropped root fails the cell
		// when it is built, with the resolver's reason).
		if req, err := roots.Request(rootCell(c)); err == nil {
			for _, p := range req.Packages {
				in := p.Input()
				need[in.Name] = in
			}
		}
		src, ok := l.Find(c.Input)
		if !ok {
			return fail(fmt.Errorf("%s: input %s is not in %s: run `monogres lock`", c.Name, c.Input, e.lockPath))
		}
		need[src.Name] = src
		if c.Extension == "" {
			bcells = append(bcells, buildCell(c, src))
			continue
		}
		ec, err := extensionCell(c, src, l, e.lockPath)
		if err != nil {
			return fail(err)
		}
		ec.Params = extensionParams(m, c.Extension)
		need[ec.Source.Name] = ec.Source
		if ec.Plugin.Name != "" {
			need[ec.Plugin.Name] = ec.Plugin
		}
		ecells = append(ecells, ec)
	}
	inputs := make([]lock.Input, 0, len(need))
	for _, in := range need {
		inputs = append(inputs, in)
	}
	slices.SortFunc(inputs, func(a, b lock.Input) int { return strings.Compare(a.Name, b.Name) })
	f, err := e.fetcher(m, st, 8, bf.offline, sink)
	if err != nil {
		return fail(err)
	}
	if err := f.Fetch(e.ctx, inputs); err != nil {
		return fail(err)
	}
	sum := sha256.Sum256(lockBytes)
	cfg = build.Config{
		Store:      st,
		Toolchain:  composeToolchain(st, roots),
		OutDir:     bf.out,
		Jobs:       bf.jobs,
		MakeJobs:   bf.makeJobs,
		KeepGoing:  bf.keepGoing,
		LockDigest: "sha256:" + hex.EncodeToString(sum[:]),
		Sink:       sink,
		Limits:     sandboxLimits(m.Limits),
	}
	if bf.out != "" {
		if err := os.MkdirAll(bf.out, 0o755); err != nil {
			return fail(err)
		}
	}
	return cfg, l, bcells, ecells, nil
}

// runCells fetches what the cells need, then builds or verifies them.
func (e *env) runCells(m *manifest.Manifest, cells []plan.Cell, verify bool, bf buildFlags, sink event.Sink) ([]build.Result, error) {
	cfg, l, bcells, ecells, err := e.setupCells(m, cells, bf, sink)
	if err != nil {
		return nil, err
	}
	var att *attester
	if bf.out != "" {
		att = newAttester(e, cfg.Store, toolchains.FromLock(l), bf.signingKey, bcells, ecells)
		cfg.Evidence = att.hook
	}
	ecfg := extension.Config{Config: cfg, LockedPackage: lockedPackage(l)}
	var results []build.Result
	var errs []error
	if len(bcells) > 0 {
		var res []build.Result
		if verify {
			res, err = build.Verify(e.ctx, cfg, bcells)
		} else {
			res, err = build.Build(e.ctx, cfg, bcells)
		}
		results = append(results, res...)
		if err != nil {
			errs = append(errs, err)
			if !bf.keepGoing || res == nil {
				return results, errors.Join(errs...)
			}
		}
	}
	if len(ecells) > 0 {
		var res []build.Result
		if verify {
			res, err = extension.Verify(e.ctx, ecfg, ecells)
		} else {
			res, err = extension.Build(e.ctx, ecfg, ecells)
		}
		results = append(results, res...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	if verify && att != nil {
		errs = append(errs, att.summaries(results))
	}
	return results, errors.Join(errs...)
}

// extensionCell is the engine's view of an extension cell: its source
// input, its plugin input (build = "plugin:NAME") and its parent Postgres
// cell, built from the same Postgres source pg.
func extensionCell(c plan.Cell, pg lock.Input, l *lock.Lock, lockPath string) (extension.Cell, error) {
	src, ok := l.Find(c.ExtensionInput)
	if !ok {
		return extension.Cell{}, fmt.Errorf("%s: input %s is not in %s: run `monogres lock`", c.Name, c.ExtensionInput, lockPath)
	}
	ec := extension.Cell{
		Name: c.Name, Extension: c.Extension, Version: c.ExtensionVersion, Source: src, Recipe: c.Build,
	}
	if name, ok := strings.CutPrefix(c.Build, "plugin:"); ok {
		in, ok := l.Find("plugin/" + name)
		if !ok {
			return extension.Cell{}, fmt.Errorf("%s: build = %q but input plugin/%s is not in %s: declare [[plugin]] %s and run `monogres lock`", c.Name, c.Build, name, lockPath, name)
		}
		ec.Plugin = in
	}
	parent := c
	parent.Name, parent.Extension, parent.ExtensionVersion, parent.ExtensionInput, parent.Build, parent.Parent = c.Parent, "", "", "", "", ""
	ec.Parent = buildCell(parent, pg)
	return ec, nil
}

// lockedPackage reports whether the lock has the Debian package name in
// some root for arch (a plugin's extra_packages must; the extension engine
// checks the cell's own root first).
func lockedPackage(l *lock.Lock) func(arch, name string) bool {
	return func(arch, name string) bool {
		for _, in := range l.Inputs {
			if in.Kind == lock.KindDeb && strings.HasSuffix(in.Name, "/"+name) && slices.ContainsFunc(in.Roots, func(r string) bool { return r == arch || strings.HasPrefix(r, arch+"~") }) {
				return true
			}
		}
		return false
	}
}

// rootCell is what the toolchain root of c serves.
func rootCell(c plan.Cell) toolchains.Cell {
	rc := toolchains.Cell{Target: string(c.Arch), Extension: c.Extension}
	for _, o := range c.Options {
		rc.Options = append(rc.Options, string(o))
	}
	return rc
}

func buildCell(c plan.Cell, src lock.Input) build.Cell {
	opts := make([]string, len(c.Options))
	for i, o := range c.Options {
		opts[i] = string(o)
	}
	return build.Cell{
		Name: c.Name, PostgresVersion: c.Postgres.String(), Major: c.Postgres.Major,
		OptionSet: string(c.OptionSet), Options: opts, Arch: string(c.Arch), Source: src,
	}
}

// composeToolchain returns the ToolchainFunc composing (or finding cached)
// the root of a cell from the locked layers and the .debs in the store.
func composeToolchain(st *store.Store, roots *toolchains.Resolved) build.ToolchainFunc {
	return func(ctx context.Context, c toolchains.Cell) (build.Toolchain, error) {
		req, err := roots.Request(c)
		if err != nil {
			return build.Toolchain{}, fmt.Errorf("%w (run `monogres lock` if the manifest's toolchain changed)", err)
		}
		open := func(ctx context.Context, p toolchains.Package) (io.ReadCloser, error) { return st.Open(p.SHA256) }
		root, err := toolchains.ComposeCached(ctx, st.Dir(), req.Packages, open, toolchains.DefaultOptions)
		if err != nil {
			return build.Toolchain{}, err
		}
		return build.Toolchain{Dir: root.Dir, Digest: root.Digest, Packages: toolchains.Names(req.Packages)}, nil
	}
}
