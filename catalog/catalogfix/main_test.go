package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/monogres/monogres/plugins/sdk"
)

func request(params map[string]string) sdk.Request {
	return sdk.Request{
		Extension: sdk.Extension{Name: "jsquery", Version: "1.2"},
		Paths:     sdk.Paths{Source: "/build/src", Out: "/build/out", PGConfig: "/build/pg/bin/pg_config", Prefix: "/build/pg"},
		Arch:      "amd64",
		Params:    params,
	}
}

func tree(t *testing.T, files map[string]string) string {
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const makefile = "install: installincludes\n\ninstallincludes:\n\t$(INSTALL_DATA) x.h '$(DESTDIR)$(includedir_server)/'\n"

func TestPlan(t *testing.T) {
	dir := tree(t, map[string]string{"Makefile": makefile, "a.sql.in": "FROM '@X@/a.data';\nFROM '@X@/b.data';\n"})
	p, err := sdk.PlanLocal(plan, request(map[string]string{
		"s1.file": "Makefile", "s1.old": `installincludes:\n`, "s1.new": `installincludes:\n\t$(MKDIR_P) '$(DESTDIR)$(includedir_server)'\n`,
		"s2.file": "a.sql.in", "s2.old": "'@X@/a.data'", "s2.new": "A",
		"s3.file": "a.sql.in", "s3.old": "'@X@/b.data'", "s3.new": "B",
		"f1.path": "fix.sed", "f1.content": `s/\(x\)/y/\n`,
		"before":    "./autogen.sh",
		"make_args": "-j1 FOO=1",
	}), dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Patches) != 2 || p.Patches[0].Path != "Makefile" || p.Patches[1].Path != "a.sql.in" {
		t.Fatalf("patches: want one per file (Makefile, a.sql.in), got %+v", p.Patches)
	}
	if !strings.Contains(p.Patches[0].Diff, "+\t$(MKDIR_P)") || !strings.Contains(p.Patches[1].Diff, "+FROM A;") || !strings.Contains(p.Patches[1].Diff, "+FROM B;") {
		t.Errorf("patches do not carry the substitutions:\n%s\n%s", p.Patches[0].Diff, p.Patches[1].Diff)
	}
	if len(p.Files) != 1 || p.Files[0].Path != "fix.sed" || p.Files[0].Content != "s/\\(x\\)/y/\n" {
		t.Errorf("files: %+v", p.Files)
	}
	if len(p.Commands) != 3 || !slices.Equal(p.Commands[0].Argv, []string{"/bin/sh", "-ec", "./autogen.sh"}) || p.Commands[0].Env["PG_CONFIG"] != "/build/pg/bin/pg_config" {
		t.Fatalf("commands: want the before script then the two PGXS commands, got %+v", p.Commands)
	}
	for _, c := range p.Commands[1:] {
		if !slices.Contains(c.Argv, "-j1") || !slices.Contains(c.Argv, "FOO=1") || !slices.Contains(c.Argv, "USE_PGXS=1") {
			t.Errorf("make command %v lacks the make_args or USE_PGXS=1", c.Argv)
		}
	}
	if !slices.Contains(p.Commands[2].Argv, "install") {
		t.Errorf("the last command is not make install: %v", p.Commands[2].Argv)
	}
}

func TestPlanErrors(t *testing.T) {
	dir := tree(t, map[string]string{"Makefile": makefile})
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{"s1.file": "Makefile", "s1.old": "nowhere", "s1.new": "x"}, "does not occur"},
		{map[string]string{"s1.file": "Makefile", "s1.new": "x"}, "empty"},
		{map[string]string{"s1.file": "Makefile", "s1.old": "install", "s1.new": "install"}, "change nothing"},
		{map[string]string{"s1.file": "missing.mk", "s1.old": "a", "s1.new": "b"}, "missing.mk"},
		{map[string]string{"patch": "x"}, "unknown"},
	} {
		if _, err := sdk.PlanLocal(plan, request(tc.params), dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("params %v: want an error containing %q, got %v", tc.params, tc.want, err)
		}
	}
	// Without params it is a plain PGXS build.
	p, err := sdk.PlanLocal(plan, request(nil), dir)
	if err != nil || len(p.Commands) != 2 || len(p.Patches) != 0 {
		t.Errorf("no params: want the two PGXS commands, got %+v, %v", p, err)
	}
}
