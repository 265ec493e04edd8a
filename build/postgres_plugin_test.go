package build_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

// TestPluginReplacesPostgresRecipe: a wasm plugin can be the recipe of a
// Postgres cell ([postgres] build = "plugin:NAME"), like any extension
// recipe. It gets the cell's request (options, install paths) and the
// staged source; its plan becomes the action: the commands are the
// script, the patch is applied to the source and recorded in the action,
// and the plugin is an input, so the key differs from the built-in
// recipe's. The built-in recipe's action is what NewAction computes.
func TestPluginReplacesPostgresRecipe(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	sha, size, err := st.AddFile(ctx, writeTarGz(t, "postgresql-15.18", map[string]string{
		"configure": "#!/bin/sh\n", "src/include/pg_config_manual.h": "#define NAMEDATALEN 64\n",
	}))
	if err != nil {
		t.Fatal(err)
	}
	src := lock.Input{Name: "postgres/15.18", SHA256: sha, Size: size, StripPrefix: "postgresql-15.18", SourceDateEpoch: 1700000000}
	builtin := build.Cell{Name: "postgres~15.18~regular~amd64", PostgresVersion: "15.18", Major: 15, OptionSet: "regular",
		Options: []string{"zlib", "openssl"}, Arch: "amd64", Source: src}
	withPlugin := builtin.WithRecipe("plugin:pgpatch", buildPlugin(t, st, "./testdata/plugins/pgpatch"))
	cfg := build.Config{Store: st, OutDir: t.TempDir(), Toolchain: func(context.Context, toolchains.Cell) (build.Toolchain, error) {
		return build.Toolchain{Dir: t.TempDir(), Digest: "root-amd64"}, nil
	}}
	prepare := func(c build.Cell) build.Prepared {
		p, err := build.Prepare(ctx, cfg, nil, c)
		if p.Dir != "" {
			t.Cleanup(func() { os.RemoveAll(p.Dir) })
		}
		if err != nil {
			t.Fatalf("%s (recipe %s): %v", c.Name, build.RecipeName(c), err)
		}
		return p
	}
	header := func(p build.Prepared) string {
		b, err := os.ReadFile(filepath.Join(p.Source, "src/include/pg_config_manual.h"))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	pl := prepare(withPlugin)
	if !slices.Equal(pl.Request.Options, builtin.Options) || pl.Request.Extension.Name != "" || pl.Request.Paths.Out != build.DestDir {
		t.Errorf("the plugin's request: options %v, extension %q, out %q", pl.Request.Options, pl.Request.Extension.Name, pl.Request.Paths.Out)
	}
	script := pl.Action.Command.Arguments[2]
	if !strings.Contains(script, "\n./configure --prefix=/usr/local/pgsql --with-zlib --with-openssl\n") || !strings.Contains(script, `make -j"$MONOGRES_JOBS"`) {
		t.Errorf("the plugin's commands are not the action's script:\n%s", script)
	}
	if got := header(pl); got != "#define NAMEDATALEN 128\n" {
		t.Errorf("the plugin's patch was not applied to the source: %q", got)
	}
	if pl.Action.Recipe != "plugin:pgpatch" || pl.Action.Plan == nil || len(pl.Action.Plan.Patches) != 1 {
		t.Errorf("the action does not record the plugin's recipe and patch: recipe %q plan %+v", pl.Action.Recipe, pl.Action.Plan)
	}
	if !slices.ContainsFunc(pl.Action.Inputs, func(in build.ActionInput) bool {
		return in.Path == "plugin:plugin/pgpatch" && in.SHA256 == withPlugin.Plugin.SHA256
	}) {
		t.Errorf("the plugin is not an input of the action: %+v", pl.Action.Inputs)
	}

	bi := prepare(builtin)
	want, err := build.NewAction(builtin, "root-amd64", src.SourceDateEpoch)
	if err != nil {
		t.Fatal(err)
	}
	if bi.ActionKey != want.Key() || bi.Action.Plan != nil || bi.Action.Recipe != "" {
		t.Errorf("the built-in recipe's action is not NewAction's: key %s want %s, plan %+v", bi.ActionKey, want.Key(), bi.Action.Plan)
	}
	if got := header(bi); got != "#define NAMEDATALEN 64\n" {
		t.Errorf("the built-in recipe changed the source: %q", got)
	}
	if bi.ActionKey == pl.ActionKey {
		t.Error("the plugin's action has the built-in recipe's key")
	}
}
