package cli

import (
	"errors"
	"sync"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/evidence"
	"github.com/monogres/monogres/internal/keys"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/toolchains"
)

// attester writes the evidence of the packages a build publishes (it is
// build.Config.Evidence) and, after verify, their verification summaries.
type attester struct {
	e      *env
	st     *store.Store
	keyArg string
	inputs map[string]evidence.Package // each cell's lock inputs
	mu     sync.Mutex
	signer *keys.PrivateKey
	done   map[string]*evidence.Package
}

func newAttester(e *env, st *store.Store, roots *toolchains.Resolved, keyArg string, cells []build.Cell) *attester {
	a := &attester{e: e, st: st, keyArg: keyArg, inputs: map[string]evidence.Package{}, done: map[string]*evidence.Package{}}
	for _, c := range cells {
		// A dropped layer gives no inputs here: it fails the build itself.
		p := evidence.Package{Source: c.Source, Toolchain: app.RootInputs(roots, c), Plugin: c.Plugin}
		a.inputs[c.Name] = p
	}
	return a
}

func (a *attester) key() (*keys.PrivateKey, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.signer == nil {
		k, err := keys.Signer(a.keyArg)
		if err != nil {
			return nil, err
		}
		a.signer = k
	}
	return a.signer, nil
}

// hook is build.Config.Evidence: CELL.spdx.json and CELL.intoto.jsonl.
func (a *attester) hook(cell string, r *build.Result) error {
	k, err := a.key()
	if err != nil {
		return err
	}
	p, err := evidence.Peek(cell, r.PackagePath, r.ManifestPath, r.Manifest)
	if err != nil {
		return err
	}
	in := a.inputs[cell]
	p.Source, p.Toolchain, p.Plugin = in.Source, in.Toolchain, in.Plugin
	if _, _, err := evidence.Write(a.e.ctx, a.st, p, k); err != nil {
		return err
	}
	a.mu.Lock()
	a.done[cell] = p
	a.mu.Unlock()
	return nil
}

// summaries writes CELL.vsa.intoto.jsonl for every verified result.
func (a *attester) summaries(results []build.Result) error {
	var errs []error
	for _, r := range results {
		a.mu.Lock()
		p := a.done[r.Cell]
		a.mu.Unlock()
		if r.State != event.StateVerified || p == nil {
			continue
		}
		k, err := a.key()
		if err != nil {
			return err
		}
		if _, err := evidence.WriteVSA(a.e.ctx, a.st, p, k, r.Rebuilt); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
