package plugins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/monogres/monogres/plugins/sdk"
)

// RunFile runs the plugin at wasmPath once, outside a build: it reads a JSON
// Request from request (a missing protocol field means the current version),
// exposes srcDir read-only as the source tree (empty: an empty tree), copies
// the plugin's stderr to stderr and writes the validated plan as indented
// JSON to stdout. It backs `monogres plugin run PLUGIN.wasm --request FILE`.
// The wasm is trusted as given (its sha256 is computed, not checked).
func RunFile(ctx context.Context, wasmPath string, request io.Reader, srcDir string, stdout, stderr io.Writer, opts Options) error {
	wasm, err := os.ReadFile(wasmPath)
	if err != nil {
		return err
	}
	var req sdk.Request
	dec := json.NewDecoder(request)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return fmt.Errorf("request: %w", err)
	}
	var src fs.FS
	if srcDir != "" {
		info, err := os.Stat(srcDir)
		if err != nil {
			return fmt.Errorf("source tree: %w", err)
		}
		if !info.IsDir() {
			return fmt.Errorf("source tree %s is not a directory", srcDir)
		}
		src = os.DirFS(srcDir)
	}
	h, err := NewHost(ctx, opts)
	if err != nil {
		return err
	}
	defer h.Close(context.WithoutCancel(ctx))
	sum := sha256.Sum256(wasm)
	m, err := h.Compile(ctx, filepath.Base(wasmPath), wasm, hex.EncodeToString(sum[:]))
	if err != nil {
		return err
	}
	p, err := h.Call(ctx, m, req, src, stderr)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false) // plans hold shell and C text: keep < > & readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return err
	}
	_, err = io.Copy(stdout, &out)
	return err
}
