package cli

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

var update = flag.Bool("update", false, "rewrite golden files (testdata/golden/*.lock and cmp targets in testdata/script/*.txtar)")

func TestMain(m *testing.M) {
	Init()
	testscript.Main(m, map[string]func(){
		"monogres": func() {
			os.Exit(Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
		},
	})
}

// TestScripts runs the CLI scripts in testdata/script: each error path with
// its exact message, and the init → lock → check → plan flows.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:           filepath.Join("testdata", "script"),
		UpdateScripts: *update,
		Setup: func(env *testscript.Env) error {
			env.Setenv("MONOGRES_STORE", filepath.Join(env.WorkDir, ".store"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"serve":   cmdServe,
			"mktargz": cmdMktargz,
			"replace": cmdReplace,
			"subst":   cmdSubst,
			"cut":     cmdCut,
		},
	})
}

// serve DIR: serve DIR over HTTP on loopback; $SERVER is its base URL.
func cmdServe(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: serve DIR")
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(ts.MkAbs(args[0]))))
	ts.Defer(srv.Close)
	ts.Setenv("SERVER", srv.URL)
}

// mktargz OUT DIR: write a reproducible tar.gz of DIR (entries under DIR's
// base name, fixed mtimes) to OUT.
func cmdMktargz(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mktargz OUT DIR")
	}
	b, err := targz(ts.MkAbs(args[1]))
	ts.Check(err)
	ts.Check(os.MkdirAll(filepath.Dir(ts.MkAbs(args[0])), 0o755))
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

// replace FILE OLD NEW: replace every OLD in FILE (Go-quoted escapes such as
// \n allowed); OLD must occur.
func cmdReplace(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: replace FILE OLD NEW")
	}
	unq := func(s string) string { return strings.ReplaceAll(s, `\n`, "\n") }
	p := ts.MkAbs(args[0])
	b, err := os.ReadFile(p)
	ts.Check(err)
	if !bytes.Contains(b, []byte(unq(args[1]))) {
		ts.Fatalf("%s does not contain %q", args[0], args[1])
	}
	ts.Check(os.WriteFile(p, bytes.ReplaceAll(b, []byte(unq(args[1])), []byte(unq(args[2]))), 0o644))
}

// cut FILE MARKER: drop FILE's text from MARKER (which must occur) to the end.
func cmdCut(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: cut FILE MARKER")
	}
	p := ts.MkAbs(args[0])
	b, err := os.ReadFile(p)
	ts.Check(err)
	i := bytes.Index(b, []byte(args[1]))
	if i < 0 {
		ts.Fatalf("%s does not contain %q", args[0], args[1])
	}
	ts.Check(os.WriteFile(p, b[:i], 0o644))
}

// subst FILE...: expand $VAR and ${VAR} in each FILE from the script's environment.
func cmdSubst(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: subst FILE...")
	}
	for _, a := range args {
		p := ts.MkAbs(a)
		b, err := os.ReadFile(p)
		ts.Check(err)
		ts.Check(os.WriteFile(p, []byte(os.Expand(string(b), ts.Getenv)), 0o644))
	}
}

// targz archives dir reproducibly: sorted entries, fixed mtime and owner,
// gzip without compression (stored blocks do not depend on the compressor).
func targz(dir string) ([]byte, error) {
	var files []string
	err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	tw := tar.NewWriter(zw)
	mtime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	base := filepath.Dir(dir)
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(base, f)
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
