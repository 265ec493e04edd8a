package plugins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/monogres/monogres/plugins/sdk"
)

// ScaffoldFile is one file of a new plugin module.
type ScaffoldFile struct {
	Path    string // slash-separated, relative to the module root
	Content []byte
}

// goVersion is the go directive of generated modules: the language version
// of the toolchain monogres was built with.
func goVersion() string {
	v := strings.TrimPrefix(runtime.Version(), "go")
	if f := strings.SplitN(v, ".", 3); len(f) >= 2 {
		return f[0] + "." + f[1]
	}
	return "1.26"
}

// Scaffold returns the files of a new plugin module: go.mod, main.go (a
// PGXS plugin using the SDK), main_test.go (a table test running the plugin
// natively through sdk.PlanLocal), request.json (a sample request), a
// README, and the SDK vendored under vendor/.
func Scaffold(module, name string) ([]ScaffoldFile, error) {
	r := strings.NewReplacer("{{module}}", module, "{{name}}", name, "{{go}}", goVersion(),
		"{{sdk}}", sdk.ModulePath, "{{sdkversion}}", sdk.SourceVersion)
	files := []ScaffoldFile{
		{"go.mod", []byte(r.Replace(scaffoldGoMod))},
		{"main.go", []byte(r.Replace(scaffoldMain))},
		{"main_test.go", []byte(r.Replace(scaffoldTest))},
		{"request.json", []byte(r.Replace(scaffoldRequest))},
		{"README.md", []byte(r.Replace(scaffoldReadme))},
		{".gitignore", []byte("*.wasm\n")},
	}
	v, err := vendorFiles(nil)
	if err != nil {
		return nil, err
	}
	return append(files, v...), nil
}

// vendorFiles returns vendor/modules.txt (the entries of old, an existing
// modules.txt, for other modules kept) and the SDK source under vendor/.
func vendorFiles(old []byte) ([]ScaffoldFile, error) {
	var mods bytes.Buffer
	for _, block := range strings.SplitAfter(string(old), "\n# ") {
		block = strings.TrimPrefix(block, "# ")
		if block == "" || strings.HasPrefix(block, sdk.ModulePath+" ") {
			continue
		}
		mods.WriteString("# " + strings.TrimSuffix(block, "# "))
	}
	fmt.Fprintf(&mods, "# %s %s\n## explicit; go %s\n%s\n", sdk.ModulePath, sdk.SourceVersion, goVersion(), sdk.ModulePath)
	out := []ScaffoldFile{{"vendor/modules.txt", mods.Bytes()}}
	ents, err := fs.ReadDir(sdk.Source, ".")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasSuffix(n, "_test.go") || n == "source.go" {
			continue
		}
		b, err := fs.ReadFile(sdk.Source, n)
		if err != nil {
			return nil, err
		}
		out = append(out, ScaffoldFile{path.Join("vendor", sdk.ModulePath, n), b})
	}
	return out, nil
}

// Vendor writes this monogres's SDK into the plugin module at dir (which
// requires it in go.mod), replacing any older copy.
func Vendor(dir string) error {
	old, err := os.ReadFile(filepath.Join(dir, "vendor", "modules.txt"))
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	files, err := vendorFiles(old)
	if err != nil {
		return err
	}
	sdkDir := filepath.Join(dir, "vendor", filepath.FromSlash(sdk.ModulePath))
	if err := os.RemoveAll(sdkDir); err != nil {
		return err
	}
	return WriteFiles(dir, files)
}

// WriteFiles writes files below dir, making directories as needed.
func WriteFiles(dir string, files []ScaffoldFile) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Build compiles the plugin in dir (a main package) to the WASI command
// module out and returns its sha256. The build is reproducible: -trimpath,
// no VCS stamping, no cgo, no GOFLAGS or workspace from the environment,
// the local toolchain only; a module requiring the SDK gets this monogres's
// SDK vendored first (no replace directive, so no local path lands in the
// wasm). Two checkouts of the same source at different paths give the
// same bytes with the same Go release. go's output goes to stderr.
func Build(ctx context.Context, dir, out string, stderr io.Writer) (string, error) {
	absOut, err := filepath.Abs(out)
	if err != nil {
		return "", err
	}
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains([]string{"GOOS", "GOARCH", "GOFLAGS", "GOWORK", "GOWASM", "CGO_ENABLED", "GOTOOLCHAIN", "GOEXPERIMENT"}, k)
	})
	env = append(env, "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0", "GOWORK=off", "GOTOOLCHAIN=local")
	if gomod, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(gomod, []byte(sdk.ModulePath)) {
		if err := Vendor(dir); err != nil {
			return "", fmt.Errorf("plugin build: vendoring the SDK into %s: %w", dir, err)
		}
		env = append(env, "GOFLAGS=-mod=vendor")
	}
	if err := os.MkdirAll(filepath.Dir(absOut), 0o755); err != nil {
		return "", err
	}
	if msg, err := goBuildWasm(ctx, dir, ".", absOut, env); err != nil {
		if stderr != nil {
			stderr.Write(msg)
		}
		return "", fmt.Errorf("plugin build: go build in %s: %v%s", dir, err, oneLine(string(msg)))
	}
	b, err := os.ReadFile(absOut)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// goBuildWasm builds the main package pkg in dir to the wasm module out,
// with env (GOOS=wasip1 GOARCH=wasm and the rest). It builds a WASI
// reactor (-buildmode=c-shared) first and keeps it when the host would run
// it as one (it exports monogres_main: the plugin uses the SDK; see
// snapshot.go), so the Go runtime and package init run once per module
// rather than once per call; otherwise it builds a command module. On
// failure it returns go's output.
func goBuildWasm(ctx context.Context, dir, pkg, out string, env []string) ([]byte, error) {
	for _, mode := range []string{"-buildmode=c-shared", "-buildmode=exe"} {
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", mode, "-o", out, pkg)
		cmd.Dir = dir
		cmd.Env = env
		if msg, err := cmd.CombinedOutput(); err != nil {
			return msg, err
		}
		b, err := os.ReadFile(out)
		if err != nil {
			return nil, err
		}
		if _, _, reactor := exportGlobals(b); reactor {
			break
		}
	}
	return nil, nil
}

func oneLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return ": " + l
		}
	}
	return ""
}

const scaffoldGoMod = `module {{module}}

go {{go}}

require {{sdk}} {{sdkversion}}
`

const scaffoldMain = `// Command {{name}} is a monogres build plugin: monogres sends it one
// request (the extension, the Postgres cell, fixed sandbox paths, the
// source tree read-only under req.Paths.Mount) and it answers with a plan:
// files to write, patches to apply, commands to run in the build sandbox.
//
// Test it natively:  go test ./...
// Build it:          monogres plugin build .
// Dry-run it:        monogres plugin run --cell EXTENSION~VERSION~postgres~15.18~regular~amd64
package main

import (
	"fmt"

	"{{sdk}}"
)

func main() { sdk.Run(plan) }

// plan builds the extension with PGXS. Edit it for what the extension
// needs: sdk.Substitute for a sed-style fix (it becomes a patch), sdk.File
// for a generated file, req.Params for settings from monogres.toml.
func plan(req sdk.Request) (sdk.Plan, error) {
	ctl, err := req.Control()
	if err != nil {
		return sdk.Plan{}, err
	}
	if ctl["default_version"] == "" {
		return sdk.Plan{}, fmt.Errorf("%s.control has no default_version", req.Extension.Name)
	}
	return sdk.Plan{Commands: sdk.PGXS(req)}, nil
}
`

const scaffoldTest = `package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"{{sdk}}"
)

// TestPlan runs the plugin natively on small source trees, through the
// same JSON round trip and plan validation as monogres.
func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tree    map[string]string
		wantErr string
		wantCmd string
	}{
		{
			name:    "pgxs",
			tree:    map[string]string{"Makefile": "EXTENSION = pg_demo\n", "pg_demo.control": "default_version = '1.0'\n"},
			wantCmd: "make USE_PGXS=1 PG_CONFIG=/build/pg/bin/pg_config rpathdir=$$ORIGIN/../lib install DESTDIR=/build/out",
		},
		{
			name:    "no control file",
			tree:    map[string]string{"Makefile": "EXTENSION = pg_demo\n"},
			wantErr: "pg_demo.control",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.tree {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			req, err := sdk.ReadRequest("request.json")
			if err != nil {
				t.Fatal(err)
			}
			p, err := sdk.PlanLocal(plan, req, dir)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			last := p.Commands[len(p.Commands)-1]
			if got := strings.Join(last.Argv, " "); got != tc.wantCmd {
				t.Errorf("last command %q, want %q", got, tc.wantCmd)
			}
		})
	}
}
`

const scaffoldRequest = `{
  "protocol": 1,
  "extension": {"name": "pg_demo", "version": "1.0"},
  "postgres": {"version": "15.18", "major": 15},
  "option_set": "regular",
  "arch": "amd64",
  "paths": {"source": "/build/src", "out": "/build/out", "pg_config": "/build/pg/bin/pg_config", "prefix": "/build/pg", "mount": "/src"},
  "files": [],
  "source_date_epoch": 1700000000
}
`

const scaffoldReadme = "# {{name}}: a monogres build plugin\n\n" +
	"1. `go test ./...` runs the plugin natively on the trees in main_test.go.\n" +
	"2. `monogres plugin build .` builds `{{name}}.wasm` reproducibly and prints its sha256.\n" +
	"3. In monogres.toml: `[[plugin]] name = \"{{name}}\"` with `path = \"…/{{name}}.wasm\"` (relative to the manifest),\n" +
	"   and `build = \"plugin:{{name}}\"` (with an optional `params` table) on the `[[extension]]`; then `monogres lock`.\n" +
	"4. `monogres plugin run --cell CELL` shows the request, the tree diff and the commands a build would use.\n" +
	"5. `monogres build CELL` and `monogres verify CELL`.\n\n" +
	"The SDK is vendored under vendor/ by `monogres plugin init` and refreshed by every `monogres plugin build`\n" +
	"(from the monogres that builds the plugin); do not run `go mod tidy` or `go mod vendor`, which would look\n" +
	"for {{sdk}} on the network. See docs/plugins.md in the monogres repository.\n"
