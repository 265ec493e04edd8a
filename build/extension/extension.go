// Package extension owns the extension build engine: an extension cell is
// built against the package of its parent Postgres cell, by a recipe (the
// built-in PGXS recipe or a wasm plugin, both plugins.Recipe), in the build
// sandbox, then smoke-tested (CREATE EXTENSION in a server started from the
// Postgres package and the extension package extracted together), packaged
// deterministically with build.Pack and recorded in the action cache.
//
// Invariants:
//   - The parent Postgres cell is built (or found in the action cache)
//     first; its package digest is an input of the extension action, as are
//     the extension source, the toolchain root digest, the plan (files,
//     patches, commands), the plugin's wasm digest, the smoke test and the
//     target arch. The same inputs give the same key on every machine.
//   - The plan never widens the inputs: a plugin's extra packages must be in
//     the lock (plugins.ValidatePlan).
//   - The package holds only what the extension installed (below the
//     Postgres prefix), never a file the Postgres package already has.
//   - A failing recipe or plugin fails only its own cell; with KeepGoing the
//     other cells proceed.
//   - arm64 cells run the arm64 pg_config (and the smoke test's server)
//     under qemu registered in the sandbox's own binfmt_misc (build.Emulation); the compiler is
//     the cross compiler recorded in the Postgres cell's Makefile.global,
//     also passed explicitly as CC=aarch64-linux-gnu-gcc.
package extension

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/plugins"
	"github.com/monogres/monogres/plugins/sdk"
)

// RecipeVersion is part of every extension action key; bump it when the
// build script, packaging or smoke test change what a build produces.
const RecipeVersion = "monogres-extension-recipe-1"

// Fixed paths inside the build sandbox.
const (
	// PGDir holds the parent Postgres package, read-only; its pg_config is
	// PGDir/bin/pg_config and reports paths below PGDir.
	PGDir = "/build/pg"
	// SrcDir is a writable staging copy of the extension source (PGXS
	// builds in the tree), with the plan's files and patches applied.
	SrcDir = build.SrcDir
	// OutDir is DESTDIR; the extension installs into OutDir+PGDir.
	OutDir = build.OutDir
)

// PGConfig is the parent's pg_config inside the sandbox.
const PGConfig = PGDir + "/bin/pg_config"

// Cell is one extension build target.
type Cell struct {
	// Name is "pg_similarity~1.0~postgres~15.18~barebones~amd64".
	Name string
	// Extension and Version name what is built; Extension is also the name
	// given to CREATE EXTENSION in the smoke test.
	Extension string
	Version   string
	// Source is the lock input of the extension source archive
	// ("extension/NAME/VERSION"); its bytes must be in the store.
	Source lock.Input
	// Recipe is "pgxs" or "plugin:NAME".
	Recipe string
	// Plugin is the lock input of the plugin's wasm ("plugin/NAME") when
	// Recipe is "plugin:NAME".
	Plugin lock.Input
	// Params are passed to a plugin in its request.
	Params map[string]string
	// Parent is the Postgres cell the extension is built against.
	Parent build.Cell
	// SmokeSQL, if set, runs after CREATE EXTENSION in the smoke test and
	// must succeed (e.g. a query using one of the extension's functions).
	SmokeSQL string
}

// Config is what Build and Verify need besides the cells: the engine
// settings shared with Postgres builds, plus plugin settings.
type Config struct {
	build.Config
	// Plugin bounds wasm plugin calls (memory, time, output); CacheDir,
	// SourceDateEpoch and TempDir are set by the engine.
	Plugin plugins.Options
	// LockedPackage reports whether a Debian package name is in the lock's
	// toolchain for arch; a plan naming another extra package fails its
	// cell. Nil means the lock holds none.
	LockedPackage func(arch, name string) bool
}

// Action is one extension build, shaped like build.Action (a REAPI
// Action/Command): the input root (toolchain root digest, parent package,
// source, plugin), the plan the recipe returned, the command rendered from
// it and the smoke test. Key is the sha256 of its canonical JSON.
type Action struct {
	RecipeVersion string              `json:"recipe_version"`
	Cell          string              `json:"cell"`
	Arch          string              `json:"arch"`
	RootDigest    string              `json:"root_digest"`
	Inputs        []build.ActionInput `json:"inputs"`
	Recipe        string              `json:"recipe"`
	Plan          sdk.Plan            `json:"plan"`
	Command       build.Command       `json:"command"`
	Smoke         string              `json:"smoke"`
}

// Encode is the canonical encoding: JSON in declaration order, no HTML
// escaping, no trailing newline.
func (a Action) Encode() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(a) // plain data: cannot fail
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Key is the hex sha256 of Encode.
func (a Action) Key() string {
	h := sha256.Sum256(a.Encode())
	return hex.EncodeToString(h[:])
}

// Env is the command's environment as KEY=VALUE strings.
func (a Action) Env() []string {
	var out []string
	for _, e := range a.Command.Environment {
		out = append(out, e.Name+"="+e.Value)
	}
	return out
}

// Manifest describes an extension package: the fields of a Postgres
// package manifest (Source is the extension's lock input) plus what it was
// built against.
type Manifest struct {
	build.Manifest
	Extension        string `json:"extension"`
	ExtensionVersion string `json:"extension_version"`
	Recipe           string `json:"recipe"`
	PluginSHA256     string `json:"plugin_sha256,omitempty"`
	Parent           string `json:"parent"`
	ParentPackage    string `json:"parent_package"`
}

// Request is the plugin request of cell c.
func Request(c Cell) sdk.Request {
	return sdk.Request{
		Protocol:  sdk.ProtocolVersion,
		Extension: sdk.Extension{Name: c.Extension, Version: c.Version},
		Postgres:  sdk.Postgres{Version: c.Parent.PostgresVersion, Major: c.Parent.Major},
		OptionSet: c.Parent.OptionSet,
		Arch:      c.Parent.Arch,
		Paths:     sdk.Paths{Source: SrcDir, Out: OutDir, PGConfig: PGConfig, Prefix: PGDir},
		Params:    c.Params,
	}
}

// PGXS is the built-in PGXS recipe for a target arch (sdk.PGXS names the
// cross compiler of a cross target from the request).
func PGXS(arch string) plugins.PGXS {
	return plugins.PGXS{}
}

// Script renders a plan's commands as a POSIX shell script: each command is
// echoed, then run in its directory below SrcDir with its env added; the
// script stops at the first failure.
func Script(p sdk.Plan) string {
	var b strings.Builder
	b.WriteString("set -eu\n")
	for _, c := range p.Commands {
		dir := SrcDir
		if c.Dir != "" {
			dir += "/" + c.Dir
		}
		var words []string
		for _, k := range slices.Sorted(maps.Keys(c.Env)) {
			words = append(words, shQuote(k+"="+c.Env[k]))
		}
		for _, a := range c.Argv {
			words = append(words, shQuote(a))
		}
		cmd := strings.Join(words, " ")
		if len(c.Env) > 0 {
			cmd = "env " + cmd
		}
		fmt.Fprintf(&b, "echo %s\n(cd %s && %s)\n", shQuote("+ "+strings.Join(c.Argv, " ")), shQuote(dir), cmd)
	}
	return b.String()
}

func shQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
