package plugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/monogres/monogres/plugins/sdk"
)

// Recipe turns a build request and its source tree into a plan. The built-in
// recipes and wasm plugins (Wasm) implement it, so a plugin can replace any
// built-in.
type Recipe interface {
	Plan(ctx context.Context, req sdk.Request, src fs.FS) (sdk.Plan, error)
}

// Wasm is a Recipe backed by a compiled plugin.
type Wasm struct {
	Host   *Host
	Module *Module
	// Stderr receives the plugin's diagnostics (bounded); nil discards them.
	Stderr io.Writer
}

// Plan runs the plugin once; see Host.Call.
func (w Wasm) Plan(ctx context.Context, req sdk.Request, src fs.FS) (sdk.Plan, error) {
	return w.Host.Call(ctx, w.Module, req, src, w.Stderr)
}

// PGXS is the built-in recipe for extensions built with Postgres' PGXS: the
// commands of sdk.PGXS (which names the cross compiler on arm64), with
// MakeArgs appended to both make command lines. The package is everything
// installed under $out.
type PGXS struct {
	MakeArgs []string
}

// Plan returns the PGXS plan; src must have a Makefile at its root.
func (r PGXS) Plan(ctx context.Context, req sdk.Request, src fs.FS) (sdk.Plan, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Plan{}, err
	}
	name := req.Extension.Name + " " + req.Extension.Version
	if req.Paths.PGConfig == "" || req.Paths.Out == "" {
		return sdk.Plan{}, fmt.Errorf("pgxs recipe for %s: request has no paths.pg_config or paths.out", name)
	}
	if _, err := fs.Stat(src, "Makefile"); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return sdk.Plan{}, fmt.Errorf("pgxs recipe for %s: no Makefile at the root of the source tree; not a PGXS extension (use a plugin)", name)
		}
		return sdk.Plan{}, fmt.Errorf("pgxs recipe for %s: %w", name, err)
	}
	p := sdk.Plan{Protocol: sdk.ProtocolVersion, Commands: sdk.PGXS(req, r.MakeArgs...)}
	if err := p.Validate(); err != nil {
		return sdk.Plan{}, fmt.Errorf("pgxs recipe for %s: %w", name, err)
	}
	return p, nil
}
