package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/monogres/monogres/plugins/sdk"
)

func TestValidatePlanChecksTheLock(t *testing.T) {
	p := sdk.Plan{Protocol: 1, Commands: []sdk.Command{{Argv: []string{"make"}}}, ExtraPackages: []string{"libgeos-dev", "bison"}}
	locked := func(name string) bool { return name == "bison" }
	err := ValidatePlan(p, "", locked)
	wantErr(t, err, `extra_packages[0]: "libgeos-dev" is not in the lock`)
	if strings.Contains(err.Error(), `"bison"`) {
		t.Errorf("bison is locked but reported: %v", err)
	}
	wantErr(t, ValidatePlan(p, "", nil), `"libgeos-dev" is not in the lock`, `"bison" is not in the lock`)
	p.ExtraPackages = []string{"bison"}
	if err := ValidatePlan(p, "", locked); err != nil {
		t.Fatal(err)
	}
	p.Commands = nil
	wantErr(t, ValidatePlan(p, "", locked), "commands: plan has no commands")
}

// TestValidatePlanPackagePatterns: a pattern outside the install prefix
// (the docs' old usr/lib/postgresql/15/... example) can never match.
func TestValidatePlanPackagePatterns(t *testing.T) {
	p := sdk.Plan{Protocol: 1, Commands: []sdk.Command{{Argv: []string{"make"}}}}
	for _, ok := range []string{"build/pg/lib/x.so", "build/pg/share/extension", "build", "build/*/lib/*.so", "*/pg"} {
		p.Package = []string{ok}
		if err := ValidatePlan(p, "/build/pg", nil); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	p.Package = []string{"build/pg/lib/x.so", "usr/lib/postgresql/15/lib/x.so", "build/postgres/lib"}
	err := ValidatePlan(p, "/build/pg", nil)
	wantErr(t, err, `package[1] "usr/lib/postgresql/15/lib/x.so" matches nothing: an extension installs below build/pg/`, `package[2] "build/postgres/lib" matches nothing`)
	if strings.Contains(err.Error(), "package[0]") {
		t.Errorf("a good pattern reported: %v", err)
	}
}

func TestApplyPlanStaysInTree(t *testing.T) {
	base := t.TempDir()
	src := filepath.Join(base, "src")
	mustWrite(t, filepath.Join(src, "Makefile"), "a\n")
	os.Symlink(filepath.Join(base, "elsewhere"), filepath.Join(src, "abs"))
	os.Symlink("../elsewhere", filepath.Join(src, "rel"))
	os.Mkdir(filepath.Join(base, "elsewhere"), 0o755)
	for _, path := range []string{"abs/x", "rel/x"} {
		p := sdk.Plan{Protocol: 1, Files: []sdk.File{{Path: path, Content: "pwned"}}, Commands: []sdk.Command{{Argv: []string{"true"}}}}
		_, err := ApplyPlan(src, p)
		wantErr(t, err, "files[0] "+path)
	}
	if left, _ := os.ReadDir(filepath.Join(base, "elsewhere")); len(left) > 0 {
		t.Errorf("ApplyPlan wrote outside the tree: %v", left)
	}
	p := sdk.Plan{Protocol: 1, Patches: []sdk.Patch{{Path: "Makefile", Diff: "@@ -1 +1 @@\n-b\n+c\n"}}, Commands: []sdk.Command{{Argv: []string{"true"}}}}
	_, err := ApplyPlan(src, p)
	wantErr(t, err, "patches[0] Makefile: hunk #1 (@@ -1 +1 @@) does not apply")
	p.Files = []sdk.File{{Path: "run.sh", Content: "#!/bin/sh\n", Mode: 0o755}}
	p.Patches[0].Diff = "@@ -1 +1 @@\n-a\n+c\n"
	applied, err := ApplyPlan(src, p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(applied); got != "[wrote run.sh (10 bytes) patched Makefile (+1 -1 lines)]" {
		t.Errorf("applied %s", got)
	}
	p.Patches[0].Path = "GNUmakefile"
	_, err = ApplyPlan(src, p)
	wantErr(t, err, "patches[0] GNUmakefile: the source tree has no such file to patch")
	if b, _ := os.ReadFile(filepath.Join(src, "Makefile")); string(b) != "c\n" {
		t.Errorf("Makefile = %q", b)
	}
	if info, err := os.Stat(filepath.Join(src, "run.sh")); err != nil || info.Mode().Perm() != 0o755 {
		t.Errorf("run.sh: %v %v", info, err)
	}
}

func TestMatchPackage(t *testing.T) {
	pats := []string{"usr/lib/postgresql/15/lib/demo*.so", "usr/share/postgresql/15/extension"}
	for rel, want := range map[string]bool{
		"usr/lib/postgresql/15/lib/demo.so":                      true,
		"usr/lib/postgresql/15/lib/other.so":                     false,
		"usr/share/postgresql/15/extension/demo.control":         true,
		"usr/share/postgresql/15/extension/sub/demo--1.0.sql":    true,
		"usr/share/postgresql/15/extensionX/demo.control":        false,
		"usr/lib/postgresql/15/lib/bitcode/demo/demo.bc":         false,
		"usr/lib/postgresql/15/lib/demo2.so/inner":               true, // a parent matches
		"usr/include/postgresql/15/server/extension/demo/demo.h": false,
	} {
		if got := MatchPackage(pats, rel); got != want {
			t.Errorf("MatchPackage(%q) = %v, want %v", rel, got, want)
		}
	}
	if !MatchPackage(nil, "anything/at/all") {
		t.Error("no patterns must select everything")
	}
}

func TestPGXSRecipe(t *testing.T) {
	var r Recipe = PGXS{MakeArgs: []string{"CC=aarch64-linux-gnu-gcc"}}
	src := writeTree(t, map[string]string{"Makefile": demoMakefile})
	p, err := r.Plan(context.Background(), testRequest(), os.DirFS(src))
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.Plan{Protocol: 1, Commands: []sdk.Command{
		{Argv: []string{"make", "USE_PGXS=1", "PG_CONFIG=/build/pg/bin/pg_config", "rpathdir=$$ORIGIN/../lib", "CC=aarch64-linux-gnu-gcc"}},
		{Argv: []string{"make", "USE_PGXS=1", "PG_CONFIG=/build/pg/bin/pg_config", "rpathdir=$$ORIGIN/../lib", "CC=aarch64-linux-gnu-gcc", "install", "DESTDIR=/build/out"}},
	}}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	_, err = r.Plan(context.Background(), testRequest(), os.DirFS(t.TempDir()))
	wantErr(t, err, "pgxs recipe for demo 1.2: no Makefile at the root of the source tree")
	req := testRequest()
	req.Paths.PGConfig = ""
	_, err = r.Plan(context.Background(), req, os.DirFS(src))
	wantErr(t, err, "request has no paths.pg_config")
}

func TestCompileChecksPinAndShape(t *testing.T) {
	h := newHost(t, Options{})
	wasm := buildPlugin(t, "./examples/genfile")
	_, err := h.Compile(context.Background(), "genfile", wasm, strings.Repeat("0", 64))
	wantErr(t, err, "plugin genfile: wasm has sha256 "+sha256Hex(wasm)+", but it is pinned to "+strings.Repeat("0", 64)+"; refusing to compile it")

	// A module importing a host function other than WASI.
	importsEnv := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x04\x01\x60\x00\x00" + // type section: () -> ()
		"\x02\x09\x01\x03env\x01f\x00\x00") // import env.f
	_, err = h.Compile(context.Background(), "sneaky", importsEnv, sha256Hex(importsEnv))
	wantErr(t, err, "plugin sneaky: imports env.f; plugins may import only wasi_snapshot_preview1")

	empty := []byte("\x00asm\x01\x00\x00\x00")
	_, err = h.Compile(context.Background(), "empty", empty, sha256Hex(empty))
	wantErr(t, err, "plugin empty: exports no _start function")

	_, err = h.Compile(context.Background(), "junk", []byte("junk"), sha256Hex([]byte("junk")))
	wantErr(t, err, "plugin junk: compiling wasm")
}

func TestRequestProtocolMismatch(t *testing.T) {
	h := newHost(t, Options{})
	m := compile(t, h, "./examples/genfile")
	req := testRequest()
	req.Protocol = 9
	_, err := h.Call(context.Background(), m, req, nil, nil)
	wantErr(t, err, "plugin genfile: request speaks protocol version 9; this monogres speaks version 1")
}

// TestConcurrentCalls runs one compiled module several times at once; each
// call gets its own instance and staging copy.
func TestConcurrentCalls(t *testing.T) {
	h := newHost(t, Options{})
	m := compile(t, h, "./examples/genfile")
	var wg sync.WaitGroup
	plans := make([]sdk.Plan, 4)
	errs := make([]error, 4)
	for i := range plans {
		wg.Add(1)
		go func() {
			defer wg.Done()
			src := writeTree(t, map[string]string{"Makefile": "all:\n", "v.in": "@EXTVERSION@-" + string(rune('a'+i))})
			plans[i], errs[i] = h.Call(context.Background(), m, testRequest(), os.DirFS(src), nil)
		}()
	}
	wg.Wait()
	for i := range plans {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if want := "1.2-" + string(rune('a'+i)); len(plans[i].Files) != 1 || plans[i].Files[0].Content != want {
			t.Errorf("call %d: files %+v, want v = %q", i, plans[i].Files, want)
		}
	}
}

func TestRunFile(t *testing.T) {
	wasm := buildPlugin(t, "./examples/genfile")
	dir := t.TempDir()
	wasmPath := filepath.Join(dir, "genfile.wasm")
	if err := os.WriteFile(wasmPath, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	src := writeTree(t, map[string]string{"Makefile": "all:\n", "x.control.in": "v=@EXTVERSION@\n"})
	req := `{"extension":{"name":"x","version":"3.0"},"postgres":{"version":"15.18","major":15},
		"paths":{"source":"/build/src","out":"/build/out","pg_config":"/pg/bin/pg_config"},"params":{"target":"world<&>"}}`
	var stdout, stderr bytes.Buffer
	if err := RunFile(context.Background(), wasmPath, strings.NewReader(req), src, &stdout, &stderr, Options{CacheDir: sharedCacheDir}); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	var p sdk.Plan
	if err := json.Unmarshal(stdout.Bytes(), &p); err != nil {
		t.Fatalf("stdout is not a plan: %v\n%s", err, stdout.String())
	}
	if len(p.Files) != 1 || p.Files[0] != (sdk.File{Path: "x.control", Content: "v=3.0\n"}) || p.Commands[0].Argv[4] != "world<&>" || !strings.Contains(stdout.String(), `"world<&>"`) {
		t.Errorf("plan: %s", stdout.String())
	}
	if !strings.HasPrefix(stdout.String(), "{\n  \"protocol\": 1,") {
		t.Errorf("plan is not indented JSON: %s", stdout.String())
	}

	err := RunFile(context.Background(), wasmPath, strings.NewReader(`{"extension":{"name":"x"},"bogus":1}`), "", &stdout, &stderr, Options{CacheDir: sharedCacheDir})
	wantErr(t, err, "request:", `unknown field "bogus"`)
	err = RunFile(context.Background(), filepath.Join(dir, "missing.wasm"), strings.NewReader(req), "", &stdout, &stderr, Options{})
	wantErr(t, err, "missing.wasm")
}
