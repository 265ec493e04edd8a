package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/plugins"
	"github.com/monogres/monogres/plugins/sdk"
)

func init() { register(newPluginCmd) }

func newPluginCmd(e *env) *cobra.Command {
	var module, out, pin, cell, request, src string
	initCmd := &cobra.Command{
		Use:     "init DIR",
		Short:   "write a plugin scaffold that builds and passes its test as generated",
		Example: "  monogres plugin init myplugin --module example.com/myplugin",
		Args:    exactArgs(1),
		RunE:    func(_ *cobra.Command, args []string) error { return runPluginInit(e, args[0], module) },
	}
	initCmd.Flags().StringVar(&module, "module", "", "module path of the plugin (default: example.com/DIRNAME)")
	buildCmd := &cobra.Command{
		Use:   "build DIR",
		Short: "build a plugin reproducibly to wasm, optionally pinning it in the manifest",
		Example: `  monogres plugin build myplugin
  monogres plugin build myplugin -o plugins/my.wasm --pin my`,
		Args: exactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return runPluginBuild(e, args[0], out, pin) },
	}
	buildCmd.Flags().StringVarP(&out, "output", "o", "", "output .wasm file (default: DIR/NAME.wasm, or the path = of the --pin plugin)")
	buildCmd.Flags().StringVar(&pin, "pin", "", "pin the built plugin in the manifest's [[plugin]] NAME (its sha256, or its path = file)")
	run := &cobra.Command{
		Use:   "run (--cell CELL | PLUGIN.wasm|NAME [--request FILE] [--src DIR])",
		Short: "run a wasm build plugin outside a build and print its plan",
		Long: `With --cell, plan the plugin of an extension cell exactly as a build would and
print the request, the plugin's stderr, the tree diff, the commands and the
package patterns. Otherwise run PLUGIN.wasm (or the locked plugin NAME) on
the JSON request in FILE (default: stdin).`,
		Example: `  monogres plugin run --cell 'pg_demo~1.0~postgres~15.18~minimal~amd64'
  monogres plugin run my.wasm --request req.json --src ./src`,
		RunE: func(_ *cobra.Command, args []string) error {
			if cell != "" {
				if len(args) != 0 {
					return usageError{"plugin run: --cell takes no PLUGIN argument"}
				}
				return e.runPluginCell(cell)
			}
			if len(args) != 1 {
				return usageError{"plugin run: want --cell CELL, or one PLUGIN.wasm|NAME"}
			}
			return runPluginRun(e, args[0], request, src)
		},
	}
	run.Flags().StringVar(&cell, "cell", "", "dry-run the plugin of this extension cell exactly as a build would plan it")
	run.Flags().StringVar(&request, "request", "-", "JSON request file (- for stdin)")
	run.Flags().StringVar(&src, "src", "", "source tree the plugin sees read-only at /src (default: empty)")
	run.RegisterFlagCompletionFunc("cell", e.completeCells)
	return group(&cobra.Command{
		Use:   "plugin",
		Short: "write, build and dry-run wasm build plugins (plugin init|build|run)",
		Long:  "Write, build and dry-run wasm build plugins (see docs/plugins.md).",
		Example: `  monogres plugin init DIR [--module PATH]
  monogres plugin build DIR [-o FILE] [--pin NAME]
  monogres plugin run --cell CELL`,
	}, initCmd, buildCmd, run)
}

// runPluginInit writes a plugin scaffold that builds and passes its test
// as generated.
func runPluginInit(e *env, dir, module string) error {
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return fmt.Errorf("plugin init: %s is not empty; give a new or empty directory", dir)
	}
	name := filepath.Base(filepath.Clean(dir))
	if abs, err := filepath.Abs(dir); err == nil {
		name = filepath.Base(abs)
	}
	if module == "" {
		module = "example.com/" + strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(name, "-"))
	}
	files, err := plugins.Scaffold(module, name)
	if err != nil {
		return err
	}
	if err := plugins.WriteFiles(dir, files); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "wrote a plugin in %s (module %s)\n  test it:  cd %s && go test ./...\n  build it: monogres plugin build %s\n", dir, module, dir, dir)
	return nil
}

// runPluginBuild builds a plugin reproducibly and optionally pins it.
func runPluginBuild(e *env, dir, out, pin string) error {
	var local *manifest.Plugin
	if pin != "" {
		m, err := manifest.Load(e.manifestPath)
		if err != nil {
			return err
		}
		for i := range m.Plugins {
			if m.Plugins[i].Name == pin {
				local = &m.Plugins[i]
			}
		}
		if local == nil {
			return fmt.Errorf("plugin build: %s has no [[plugin]] named %q", e.manifestPath, pin)
		}
		if local.Path != "" && out == "" {
			out = filepath.Join(filepath.Dir(e.manifestPath), local.Path)
		}
	}
	if out == "" {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return err
		}
		out = filepath.Join(dir, filepath.Base(abs)+".wasm")
	}
	sum, err := plugins.Build(e.ctx, dir, out, e.stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "sha256 %s  %s\n", sum, out)
	if local == nil {
		return nil
	}
	if local.Path != "" {
		fmt.Fprintf(e.stdout, "plugin %s is path = %s: run `monogres lock` to pin it\n", pin, local.Path)
		return nil
	}
	changed, err := pinPlugin(e.manifestPath, pin, sum)
	if err != nil {
		return err
	}
	if changed {
		fmt.Fprintf(e.stdout, "pinned [[plugin]] %s to sha256 %s in %s: publish %s at its url, then run `monogres lock`\n", pin, sum, e.manifestPath, out)
	} else {
		fmt.Fprintf(e.stdout, "[[plugin]] %s in %s already pins sha256 %s\n", pin, e.manifestPath, sum)
	}
	return nil
}

// pinPlugin rewrites the sha256 of [[plugin]] name in the manifest text,
// keeping everything else (comments, order) as it is.
func pinPlugin(path, name, sum string) (bool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	lines := strings.SplitAfter(string(data), "\n")
	nameRE := regexp.MustCompile(`^\s*name\s*=\s*"` + regexp.QuoteMeta(name) + `"\s*(#.*)?$`)
	shaRE := regexp.MustCompile(`^(\s*sha256\s*=\s*")([0-9a-fA-F]*)("\s*(#.*)?)$`)
	start, in, found := -1, false, false
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			in = t == "[[plugin]]"
			start = i
			continue
		}
		if in && nameRE.MatchString(strings.TrimRight(l, "\n")) {
			for j := start + 1; j < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[j]), "["); j++ {
				if m := shaRE.FindStringSubmatch(strings.TrimRight(lines[j], "\n")); m != nil {
					if strings.EqualFold(m[2], sum) {
						return false, nil
					}
					lines[j] = m[1] + sum + m[3] + "\n"
					found = true
					break
				}
			}
			break
		}
	}
	if !found {
		return false, fmt.Errorf("%s: [[plugin]] %s has no sha256 = line to update", path, name)
	}
	out := strings.Join(lines, "")
	if !strings.HasSuffix(string(data), "\n") {
		out = strings.TrimSuffix(out, "\n")
	}
	if _, err := manifest.Parse(path, []byte(out)); err != nil {
		return false, fmt.Errorf("pinning %s: %w", name, err)
	}
	return true, os.WriteFile(path, []byte(out), 0o644)
}

func runPluginRun(e *env, plugin, request, src string) error {
	wasm, err := e.pluginPath(plugin)
	if err != nil {
		return err
	}
	var req io.Reader = e.stdin
	if request != "-" {
		f, err := os.Open(request)
		if err != nil {
			return err
		}
		defer f.Close()
		req = f
	}
	st, err := app.OpenStore()
	if err != nil {
		return err
	}
	opts := plugins.Options{CacheDir: filepath.Join(st.Dir(), "wasm")}
	return plugins.RunFile(e.ctx, wasm, req, src, e.stdout, e.stderr, opts)
}

// runPluginCell plans one cell the way `monogres build` does
// (build.Prepare: same request, lock check, source, an extension's parent package),
// then prints the request, the plugin's stderr, the tree diff of the
// applied plan, the commands and the package patterns. Anything the
// build would reject fails it.
func (e *env) runPluginCell(name string) error {
	c, prep, err := e.app().PrepareCell(e.ctx, name, e.sink(false))
	if prep.Dir != "" {
		defer os.RemoveAll(prep.Dir)
	}
	if c.Name == "" {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "cell %s (recipe %s)\n\nrequest:\n", c.Name, build.RecipeName(c))
	writeJSON(w, prep.Request)
	if len(prep.PluginStderr) > 0 {
		fmt.Fprintf(w, "\nplugin stderr:\n%s\n", bytes.TrimRight(prep.PluginStderr, "\n"))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\ntree diff (the plan applied to the extracted source):\n")
	if len(prep.Applied) == 0 {
		fmt.Fprintln(w, "  (none)")
	}
	for _, a := range prep.Applied {
		fmt.Fprintf(w, "# %s\n%s", a, sdk.Diff(a.Path, string(a.Old), string(a.New)).Diff)
	}
	fmt.Fprintf(w, "\ncommands (in %s of the build sandbox):\n", build.SrcDir)
	for _, cmd := range prep.Plan.Commands {
		fmt.Fprintf(w, "  %s\n", strings.Join(cmd.Argv, " "))
	}
	if len(prep.Plan.Package) > 0 {
		fmt.Fprintf(w, "\npackage: %s\n", strings.Join(prep.Plan.Package, " "))
	}
	if len(prep.Plan.ExtraPackages) > 0 {
		fmt.Fprintf(w, "\nextra packages (in the lock): %s\n", strings.Join(prep.Plan.ExtraPackages, " "))
	}
	state := "not built yet"
	if prep.Cached {
		state = "in the action cache: a build reuses it"
	}
	fmt.Fprintf(w, "\naction %s (%s)\n", prep.ActionKey, state)
	return nil
}

// writeJSON writes v indented, without escaping <, > and &.
func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// pluginPath resolves a .wasm path, or a plugin name of the manifest whose
// locked module is in the store (re-hashed before use).
func (e *env) pluginPath(arg string) (string, error) {
	if strings.HasSuffix(arg, ".wasm") || strings.ContainsRune(arg, os.PathSeparator) {
		return arg, nil
	}
	_, l, err := e.loadLocked()
	if err != nil {
		return "", err
	}
	in, ok := l.Find("plugin/" + arg)
	if !ok {
		return "", fmt.Errorf("no plugin %q in %s (declare it as [[plugin]] and run `monogres lock`)", arg, e.lockPath)
	}
	st, err := app.OpenStore()
	if err != nil {
		return "", err
	}
	path, err := st.VerifyEntry(in.SHA256)
	if err != nil {
		return "", fmt.Errorf("plugin %s: %v (run `monogres fetch plugin/%s`)", arg, err, arg)
	}
	return path, nil
}
