package plugins

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestDeterministicPlan runs a plugin that reads the clock, random sources,
// environment and file metadata, on fresh hosts with separate compile caches
// and separate staging copies: the plans must be byte-identical and the
// values fixed.
func TestDeterministicPlan(t *testing.T) {
	src := writeTree(t, map[string]string{"Makefile": "all:\n", "sub/a.c": "int a;\n"})
	// One host compiles cold into an empty cache, the other loads from the
	// shared cache and stages into another temp dir.
	hosts := []Options{
		{CacheDir: t.TempDir(), SourceDateEpoch: 1700000000, Env: map[string]string{"EXTRA": "1"}},
		{SourceDateEpoch: 1700000000, Env: map[string]string{"EXTRA": "1"}, TempDir: t.TempDir()},
	}
	var outs [][]byte
	for i, opts := range hosts {
		h := newHost(t, opts)
		m := compile(t, h, "./testdata/clock")
		for j := 0; j < 2; j++ {
			var stderr bytes.Buffer
			out, err := h.call(context.Background(), m, testRequest(), os.DirFS(src), &stderr)
			if err != nil {
				t.Fatalf("host %d call %d: %v\n%s", i, j, err, stderr.String())
			}
			outs = append(outs, out)
		}
	}
	for i, out := range outs[1:] {
		if !bytes.Equal(outs[0], out) {
			t.Errorf("run %d differs from run 0:\n%s\n---\n%s", i+1, outs[0], out)
		}
	}
	p, err := DecodePlan("clock", outs[0])
	if err != nil {
		t.Fatal(err)
	}
	got := p.Files[0].Content
	t.Logf("plugin saw:\n%s", got)
	for _, want := range []string{
		"now=2023-11-14T22:13:20Z\n",
		"unix=1700000000\n",
		"elapsed=0\n",
		"environ=EXTRA=1 PWD=/src SOURCE_DATE_EPOCH=1700000000\n",
		"args=clock\n",
		"files=Makefile sub/a.c\n",
		"wd=/src\n",
		`makefile="all:\n" err=<nil>`,
		"makefile.mtime=2023-11-14T22:13:20Z\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("plugin output lacks %q", want)
		}
	}
}
