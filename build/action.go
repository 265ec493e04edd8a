package build

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/monogres/monogres/build/sandbox"
	"github.com/monogres/monogres/plugins/sdk"
)

// Action is one hermetic build step, shaped like a Bazel Remote Execution
// API Action and its Command so a remote executor can run it unchanged:
// the input root (toolchain root digest + input digests), the command
// (arguments, environment, working directory, output paths) and platform
// properties. Its Key is the sha256 of its canonical JSON encoding.
type Action struct {
	// RecipeVersion is RecipeVersion when the key was computed.
	RecipeVersion string `json:"recipe_version"`
	// Cell names the target; Arch is its platform property.
	Cell string `json:"cell"`
	Arch string `json:"arch"`
	// RootDigest is the toolchain root's tree digest.
	RootDigest string `json:"root_digest"`
	// Inputs are the archives extracted into the input tree, by path.
	Inputs []ActionInput `json:"inputs"`
	// Recipe names the cell's recipe ("pgxs", "plugin:NAME"; empty for
	// the built-in Postgres recipe). Plan is the plan it returned when the
	// command does not hold all of it (files, patches, package patterns,
	// smoke settings).
	Recipe  string    `json:"recipe,omitempty"`
	Plan    *sdk.Plan `json:"plan,omitempty"`
	Command Command   `json:"command"`
	// Smoke is the smoke test script run on the install (part of the key:
	// only a build that passed it is cached).
	Smoke string `json:"smoke"`
}

// ActionInput is one input archive and where it is extracted.
type ActionInput struct {
	Path        string `json:"path"` // inside the sandbox, e.g. /build/src
	SHA256      string `json:"sha256"`
	StripPrefix string `json:"strip_prefix,omitempty"`
}

// Command is the REAPI Command: argv, environment sorted by name, working
// directory and output paths.
type Command struct {
	Arguments        []string `json:"arguments"`
	Environment      []EnvVar `json:"environment"`
	WorkingDirectory string   `json:"working_directory"`
	OutputPaths      []string `json:"output_paths"`
}

// EnvVar is one environment variable.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// NewAction describes the build of Postgres cell c with the built-in
// recipe (PostgresRecipe) in the toolchain root with digest rootDigest.
// sourceDateEpoch is SOURCE_DATE_EPOCH of the build. The job count is
// deliberately absent.
func NewAction(c Cell, rootDigest string, sourceDateEpoch int64) (Action, error) {
	plan, err := PostgresRecipe{}.Plan(context.Background(), Request(c), nil)
	if err != nil {
		return Action{}, err
	}
	return newAction(c, rootDigest, nil, sourceDateEpoch, plan)
}

// newAction is the action of cell c, from the plan its recipe returned:
// the plan's commands become the script (Script), its Env the command's
// environment, and the rest of the plan (files, patches, package patterns,
// smoke settings: what the command does not show) is recorded in the
// action. An extension cell is built against deps, the packages of its
// parent and of the extensions it requires, all installed at PGDir.
func newAction(c Cell, rootDigest string, deps []string, sde int64, plan sdk.Plan) (Action, error) {
	if rootDigest == "" {
		return Action{}, fmt.Errorf("build: cell %s: toolchain root has no digest", c.Name)
	}
	a := Action{RecipeVersion: RecipeVersion, Cell: c.Name, Arch: c.Arch, RootDigest: rootDigest, Recipe: c.Recipe}
	var env []string
	if x := c.Extension; x != nil {
		a.RecipeVersion = ExtensionRecipeVersion
		for _, d := range deps {
			a.Inputs = append(a.Inputs, ActionInput{Path: PGDir, SHA256: d})
		}
		env = slices.Clone(extensionEnv) // appended to below
		a.Smoke = extensionSmokeScript(x, x.Settings.withPlan(plan), installcheckArgs(c))
	} else {
		a.Smoke = SmokeScript(c)
	}
	a.Inputs = append(a.Inputs, ActionInput{Path: SrcDir, SHA256: c.Source.SHA256, StripPrefix: c.Source.StripPrefix})
	if c.Plugin.SHA256 != "" {
		a.Inputs = append(a.Inputs, ActionInput{Path: "plugin:" + c.Plugin.Name, SHA256: c.Plugin.SHA256})
	}
	for _, k := range slices.Sorted(maps.Keys(plan.Env)) {
		env = append(env, k+"="+plan.Env[k])
	}
	rest := plan
	rest.Protocol, rest.Commands, rest.Env = 0, nil, nil
	if !reflect.DeepEqual(rest, sdk.Plan{}) {
		a.Plan = &plan
	}
	a.Command = Command{
		Arguments:        []string{"/bin/sh", "-c", Script(plan)},
		Environment:      envVars(sandbox.DefaultEnv(sde, env...)),
		WorkingDirectory: SrcDir,
		OutputPaths:      []string{OutDirOf(c)},
	}
	return a, nil
}

// OutDirOf is where cell c's recipe installs (the request's Paths.Out):
// DestDir for a Postgres cell, OutDir for an extension cell.
func OutDirOf(c Cell) string {
	if c.Extension != nil {
		return OutDir
	}
	return DestDir
}

// envVars turns KEY=VALUE strings into the command's environment, sorted
// by name.
func envVars(env []string) []EnvVar {
	var ev []EnvVar
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		ev = append(ev, EnvVar{k, v})
	}
	slices.SortFunc(ev, func(a, b EnvVar) int { return strings.Compare(a.Name, b.Name) })
	return ev
}

// Env is the command's environment as KEY=VALUE strings.
func (a Action) Env() []string {
	var out []string
	for _, e := range a.Command.Environment {
		out = append(out, e.Name+"="+e.Value)
	}
	return out
}

// Encode is the canonical encoding: JSON with fields in declaration order,
// no HTML escaping, no insignificant whitespace.
func (a Action) Encode() []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(a) // plain strings and slices: cannot fail
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// Key is the hex sha256 of Encode.
func (a Action) Key() string {
	h := sha256.Sum256(a.Encode())
	return hex.EncodeToString(h[:])
}
