package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/monogres/monogres/plugins"
)

func runPlugin(e *env, args []string) error {
	if len(args) == 0 || args[0] != "run" {
		return usageError{"usage: monogres plugin run PLUGIN.wasm|NAME --request FILE [--src DIR]"}
	}
	fl := flags("plugin run", e.stderr)
	request := fl.String("request", "-", "JSON request file (- for stdin)")
	src := fl.String("src", "", "source tree the plugin sees read-only at /src (default: empty)")
	pos, err := parse(fl, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError{"usage: monogres plugin run PLUGIN.wasm|NAME --request FILE [--src DIR]"}
	}
	wasm, err := e.pluginPath(pos[0])
	if err != nil {
		return err
	}
	var req io.Reader = e.stdin
	if *request != "-" {
		f, err := os.Open(*request)
		if err != nil {
			return err
		}
		defer f.Close()
		req = f
	}
	st, err := e.openStore()
	if err != nil {
		return err
	}
	opts := plugins.Options{CacheDir: filepath.Join(st.Dir(), "wasm")}
	return plugins.RunFile(e.ctx, wasm, req, *src, e.stdout, e.stderr, opts)
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
	st, err := e.openStore()
	if err != nil {
		return "", err
	}
	path, err := st.VerifyEntry(in.SHA256)
	if err != nil {
		return "", fmt.Errorf("plugin %s: %v (run `monogres fetch plugin/%s`)", arg, err, arg)
	}
	return path, nil
}
