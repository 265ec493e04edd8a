package build

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
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
	// Recipe and Plan are set for extension cells: the recipe's name
	// ("pgxs", "plugin:NAME") and the plan it returned.
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

// NewAction describes the build of c in the toolchain root with digest
// rootDigest. sourceDateEpoch is SOURCE_DATE_EPOCH of the build. The job
// count is deliberately absent.
func NewAction(c Cell, rootDigest string, sourceDateEpoch int64) (Action, error) {
	r, err := RecipeFor(c)
	if err != nil {
		return Action{}, err
	}
	if rootDigest == "" {
		return Action{}, fmt.Errorf("build: cell %s: toolchain root has no digest", c.Name)
	}
	return Action{
		RecipeVersion: RecipeVersion,
		Cell:          c.Name,
		Arch:          c.Arch,
		RootDigest:    rootDigest,
		Inputs:        []ActionInput{{Path: SrcDir, SHA256: c.Source.SHA256, StripPrefix: c.Source.StripPrefix}},
		Command: Command{
			Arguments:        []string{"/bin/sh", "-c", Script(r)},
			Environment:      envVars(sandbox.DefaultEnv(sourceDateEpoch, r.Env...)),
			WorkingDirectory: r.Dir,
			OutputPaths:      r.Outs,
		},
		Smoke: SmokeScript(c),
	}, nil
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
