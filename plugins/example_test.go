package plugins

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/monogres/monogres/plugins/sdk"
)

const demoMakefile = `EXTENSION = demo
MODULE_big = demo
OBJS = demo.o
DATA = demo--1.2.sql
PG_CPPFLAGS = -Wall -Werror -O2
PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)
`

// TestGenfileExample runs the example plugin, compiled from source, on a
// small extension tree and applies its plan to a writable copy.
func TestGenfileExample(t *testing.T) {
	h := newHost(t, Options{SourceDateEpoch: 1700000000})
	m := compile(t, h, "./examples/genfile")
	src := writeTree(t, map[string]string{
		"Makefile":           demoMakefile,
		"demo.control.in":    "comment = 'demo'\ndefault_version = '@EXTVERSION@'\nmodule_pathname = '$libdir/@EXTENSION@'\n",
		"include/pgver.h.in": "#define DEMO_PG_MAJOR @PG_MAJOR@\n#define DEMO_PG_VERSION \"@PG_VERSION@\"\n",
		"demo.c":             "int x;\n",
	})
	req := testRequest()
	req.Params = map[string]string{"target": "demo.so"}
	var stderr bytes.Buffer
	var r Recipe = Wasm{Host: h, Module: m, Stderr: &stderr}
	p, err := r.Plan(context.Background(), req, os.DirFS(src))
	if err != nil {
		t.Fatalf("%v\nstderr: %s", err, stderr.String())
	}
	want := sdk.Plan{
		Protocol: sdk.ProtocolVersion,
		Files: []sdk.File{
			{Path: "demo.control", Content: "comment = 'demo'\ndefault_version = '1.2'\nmodule_pathname = '$libdir/demo'\n"},
			{Path: "include/pgver.h", Content: "#define DEMO_PG_MAJOR 15\n#define DEMO_PG_VERSION \"15.18\"\n"},
		},
		Patches: []sdk.Patch{{Path: "Makefile", Diff: "@@ -5 +5 @@\n-PG_CPPFLAGS = -Wall -Werror -O2\n+PG_CPPFLAGS = -Wall -O2\n"}},
		Commands: []sdk.Command{
			{Argv: []string{"make", "USE_PGXS=1", "PG_CONFIG=/build/pg/bin/pg_config", sdk.RelativeRpath, "demo.so"}},
			{Argv: []string{"make", "USE_PGXS=1", "PG_CONFIG=/build/pg/bin/pg_config", sdk.RelativeRpath, "install", "DESTDIR=/build/out"}},
		},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Fatalf("plan (-want +got):\n%s", diff)
	}
	if err := ValidatePlan(p, "/build/pg", func(string) bool { return false }); err != nil {
		t.Fatalf("ValidatePlan: %v", err)
	}

	// Apply the plan to a writable copy, as the build does.
	if _, err := ApplyPlan(src, p); err != nil {
		t.Fatal(err)
	}
	mk, _ := os.ReadFile(filepath.Join(src, "Makefile"))
	if strings.Contains(string(mk), "Werror") || !strings.Contains(string(mk), "PG_CPPFLAGS = -Wall -O2\n") {
		t.Errorf("patched Makefile:\n%s", mk)
	}
	ctl, err := os.ReadFile(filepath.Join(src, "demo.control"))
	if err != nil || !strings.Contains(string(ctl), "default_version = '1.2'") {
		t.Errorf("demo.control: %q, %v", ctl, err)
	}
	if info, err := os.Stat(filepath.Join(src, "include/pgver.h")); err != nil || info.Mode().Perm() != 0o644 {
		t.Errorf("include/pgver.h: %v, %v", info, err)
	}
}
