// Command rationalfix is the build plugin of pg_rational 0.0.2, whose
// Makefile installs pg_rational--0.0.1.sql but not the upgrade script
// pg_rational--0.0.1--0.0.2.sql while its control file says
// default_version = '0.0.2': CREATE EXTENSION fails after a plain PGXS
// build. The plugin patches the Makefile's DATA line to install every
// pg_rational--*.sql script, then builds with PGXS.
package main

import (
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/monogres/monogres/plugins/sdk"
)

func main() { sdk.Run(plan) }

func plan(req sdk.Request) (sdk.Plan, error) {
	mk, err := os.ReadFile(path.Join(req.Paths.Mount, "Makefile"))
	if err != nil {
		return sdk.Plan{}, fmt.Errorf("reading Makefile: %v", err)
	}
	var scripts []string
	for _, f := range req.Files {
		if strings.HasPrefix(f, req.Extension.Name+"--") && strings.HasSuffix(f, ".sql") && !strings.Contains(f, "/") {
			scripts = append(scripts, f)
		}
	}
	var diff string
	for i, line := range strings.Split(string(mk), "\n") {
		if strings.HasPrefix(line, "DATA =") {
			diff = fmt.Sprintf("@@ -%d +%d @@\n-%s\n+DATA = %s\n", i+1, i+1, line, strings.Join(scripts, " "))
		}
	}
	if diff == "" {
		return sdk.Plan{}, fmt.Errorf("Makefile has no DATA = line to fix")
	}
	pg := "PG_CONFIG=" + req.Paths.PGConfig
	var cc []string
	if req.Arch == "arm64" {
		cc = []string{"CC=aarch64-linux-gnu-gcc"}
	}
	build := append([]string{"make", "USE_PGXS=1", pg}, cc...)
	install := append(append([]string{"make", "USE_PGXS=1", pg}, cc...), "install", "DESTDIR="+req.Paths.Out)
	return sdk.Plan{
		Patches:  []sdk.Patch{{Path: "Makefile", Diff: diff}},
		Commands: []sdk.Command{{Argv: build}, {Argv: install}},
	}, nil
}
