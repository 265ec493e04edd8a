package plugins

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

// TestReactorMatchesCommand: the genfile example built as a reactor (as
// monogres plugin build and the tests build it) and as a command module
// writes the same plan, byte for byte, call after call.
func TestReactorMatchesCommand(t *testing.T) {
	h := newHost(t, Options{})
	ctx := context.Background()
	reactor := compile(t, h, "./examples/genfile")
	cmdWasm := buildCommand(t, "./examples/genfile")
	command, err := h.Compile(ctx, "genfile", cmdWasm, sha256Hex(cmdWasm))
	if err != nil {
		t.Fatal(err)
	}
	if !reactor.reactor || command.reactor {
		t.Fatalf("reactor.reactor = %v, command.reactor = %v", reactor.reactor, command.reactor)
	}
	src := os.DirFS(writeTree(t, map[string]string{"Makefile": demoMakefile, "demo.control.in": "default_version = '@EXTVERSION@'\n"}))
	var want []byte
	for i := range 3 {
		for _, m := range []*Module{command, reactor} {
			out, err := h.call(ctx, m, testRequest(), src, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want = out
				if !bytes.Contains(out, []byte(`"files"`)) {
					t.Fatalf("unexpected plan %s", out)
				}
			} else if !bytes.Equal(out, want) {
				t.Fatalf("call %d: reactor=%v wrote\n%s\nwant\n%s", i, m.reactor, out, want)
			}
		}
	}
	if reactor.snap == nil || len(reactor.snap.globals) == 0 || len(reactor.snap.runs) == 0 {
		t.Fatalf("no snapshot was taken: %+v", reactor.snap)
	}
}

// TestHostileReactorNoResidueBetweenCalls: in a reactor plugin, package
// variables and heap written by one call are gone in the next, while the
// state package init left is there in every call. It fails if the host
// reuses an instance, or restores the template into memory that was not
// zeroed, or runs init per call (the counter would still pass, but the
// template's stderr would not be replayed once per call: see below).
func TestHostileReactorNoResidueBetweenCalls(t *testing.T) {
	h := newHost(t, Options{})
	m := compile(t, h, "./testdata/hostile/state")
	if !m.reactor {
		t.Fatal("the state plugin was not built as a reactor")
	}
	for i, mode := range []string{"write", "read", "write", "read", "read"} {
		req := testRequest()
		req.Params = map[string]string{"mode": mode, "secret": "s3cret"}
		var stderr bytes.Buffer
		if _, err := h.Call(context.Background(), m, req, nil, &stderr); err != nil {
			t.Fatalf("call %d (%s): %v\n%s", i, mode, err, stderr.String())
		}
	}
}

// TestHostileReactorInitPanics: a reactor whose package init panics fails
// every call with a one-line error naming the phase and the panic (a
// reactor's Go runtime aborts with a trap, not exit status 2); what init
// wrote to stdout is not taken for a plan.
func TestHostileReactorInitPanics(t *testing.T) {
	h := newHost(t, Options{})
	m := compile(t, h, "./testdata/hostile/initpanic")
	if !m.reactor {
		t.Fatal("the initpanic plugin was not built as a reactor")
	}
	for range 2 {
		var stderr bytes.Buffer
		_, err := h.Call(context.Background(), m, testRequest(), nil, &stderr)
		wantErr(t, err, "plugin initpanic: crashed during package initialisation: wasm error: unreachable: panic: boom in init")
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("the error is not one line: %v", err)
		}
	}
	if m.snap != nil {
		t.Fatal("a failed template was kept")
	}
}

// TestReactorReplaysInitOutput: what package init writes to stdout and
// stderr reaches every call's streams, as it would from a command module
// running init per call.
func TestReactorReplaysInitOutput(t *testing.T) {
	h := newHost(t, Options{})
	m := compile(t, h, "./testdata/clock")
	if !m.reactor {
		t.Skip("clock is not a reactor")
	}
	m.snap = nil
	if _, err := h.template(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	m.snap.stderr = []byte("from init\n")
	for range 2 {
		var stderr bytes.Buffer
		if _, err := h.Call(context.Background(), m, testRequest(), nil, &stderr); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stderr.String(), "from init\n") {
			t.Fatalf("stderr %q does not start with init's", stderr.String())
		}
	}
}

// TestExportGlobals: a command module and modules it cannot read are left
// alone; a reactor gets its globals exported, which wazero then finds.
func TestExportGlobals(t *testing.T) {
	cmd := coalesceData(buildCommand(t, "./examples/genfile"))
	if out, _, ok := exportGlobals(cmd); ok || !bytes.Equal(out, cmd) {
		t.Error("exportGlobals rewrote a command module")
	}
	r := coalesceData(buildPlugin(t, "./examples/genfile"))
	out, n, ok := exportGlobals(r)
	if !ok || n == 0 {
		t.Fatalf("exportGlobals(reactor) = %d globals, ok %v", n, ok)
	}
	for _, bad := range [][]byte{nil, r[:len(r)/2], []byte("\x00asm\x01\x00\x00\x00\x07\x01")} {
		if got, _, ok := exportGlobals(bad); ok || !bytes.Equal(got, bad) {
			t.Errorf("exportGlobals rewrote a module it cannot read (%d bytes)", len(bad))
		}
	}
	// Taking our names is refused rather than shadowed.
	if again, _, ok := exportGlobals(out); ok || !bytes.Equal(again, out) {
		t.Error("exportGlobals accepted a module already exporting monogres.global.*")
	}
}

// TestStageMemory: small trees without symlinks are copied into memory
// with stage's modes; a symlink or a tree over the bound falls back to
// staging on disk.
func TestStageMemory(t *testing.T) {
	dir := writeTree(t, map[string]string{"Makefile": "all:\n", "sub/x.c": "int x;\n"})
	os.Chmod(filepath.Join(dir, "Makefile"), 0o555)
	tree, files, ok, err := stageMemory(os.DirFS(dir), 1<<20)
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if strings.Join(files, ",") != "Makefile,sub/x.c" {
		t.Errorf("files %q", files)
	}
	if err := fstest.TestFS(tree, "Makefile", "sub/x.c"); err != nil {
		t.Error(err)
	}
	if tree["Makefile"].Mode != 0o755 || string(tree["sub/x.c"].Data) != "int x;\n" || !tree["sub"].Mode.IsDir() {
		t.Errorf("tree %+v", tree)
	}
	if _, _, ok, err := stageMemory(os.DirFS(dir), 10); ok || err != nil {
		t.Errorf("a tree over the bound: ok %v, err %v", ok, err)
	}
	os.Symlink("Makefile", filepath.Join(dir, "link"))
	if _, _, ok, err := stageMemory(os.DirFS(dir), 1<<20); ok || err != nil {
		t.Errorf("a tree with a symlink: ok %v, err %v", ok, err)
	}
}
