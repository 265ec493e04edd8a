package plugins

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/monogres/monogres/internal/manifest"
)

// docSnippets returns the fenced code blocks of docs/plugins.md that follow
// a "<!-- docs-test: NAME -->" line, by NAME.
func docSnippets(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../docs/plugins.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range regexp.MustCompile("(?s)<!-- docs-test: (\\w+) -->\n```\\w*\n(.*?)```\n").FindAllStringSubmatch(string(b), -1) {
		out[m[1]] = m[2]
	}
	for _, name := range []string{"plugin", "test", "toml"} {
		if out[name] == "" {
			t.Fatalf("docs/plugins.md has no %q snippet", name)
		}
	}
	return out
}

// TestDocsSnippets: the plugin and the test on docs/plugins.md compile and
// pass in a module made by Scaffold (as `monogres plugin init` does); the
// plugin, built to wasm with Build, gives the documented plan when the
// host runs it; the manifest snippet parses.
func TestDocsSnippets(t *testing.T) {
	snip := docSnippets(t)
	dir := filepath.Join(t.TempDir(), "sqlchain")
	files, err := Scaffold("example.com/sqlchain", "sqlchain")
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(dir, files); err != nil {
		t.Fatal(err)
	}
	// As generated, the scaffold passes its own test.
	gotest := func() {
		t.Helper()
		cmd := exec.Command("go", "test", "./...")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go test: %v\n%s", err, out)
		}
	}
	gotest()
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(snip["plugin"]), 0o644)
	os.WriteFile(filepath.Join(dir, "main_test.go"), []byte(snip["test"]), 0o644)
	gotest()

	wasm := filepath.Join(t.TempDir(), "sqlchain.wasm")
	var stderr bytes.Buffer
	sum, err := Build(context.Background(), dir, wasm, &stderr)
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	b, _ := os.ReadFile(wasm)
	h := newHost(t, Options{})
	m, err := h.Compile(context.Background(), "sqlchain", b, sum)
	if err != nil {
		t.Fatal(err)
	}
	src := writeTree(t, map[string]string{
		"Makefile":                      "EXTENSION = pg_rational\nDATA = pg_rational--0.0.1.sql\n",
		"pg_rational--0.0.1.sql":        "-- base\n",
		"pg_rational--0.0.1--0.0.2.sql": "-- upgrade\n",
	})
	req := testRequest()
	req.Extension.Name, req.Extension.Version = "pg_rational", "0.0.2"
	req.Paths.Prefix = "/build/pg"
	req.Params = map[string]string{"from": "0.0.1"}
	p, err := h.Call(context.Background(), m, req, os.DirFS(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Files) != 1 || p.Files[0].Content != "-- base\n-- upgrade\n" || len(p.Patches) != 1 ||
		strings.Join(p.Package, " ") != "build/pg/lib build/pg/share" {
		t.Errorf("plan: %+v", p)
	}
	if err := ValidatePlan(p, "/build/pg", nil); err != nil {
		t.Error(err)
	}
	if _, err := ApplyPlan(src, p); err != nil {
		t.Error(err)
	}

	if _, err := manifest.Parse("monogres.toml", []byte("[postgres]\nversions = [\"15.18\"]\n\n"+snip["toml"])); err != nil {
		t.Errorf("the manifest snippet does not parse: %v", err)
	}
}
