// Command rationalfix is the build plugin of pg_rational 0.0.2, whose
// Makefile installs pg_rational--0.0.1.sql but not the upgrade script
// pg_rational--0.0.1--0.0.2.sql while its control file says
// default_version = '0.0.2': CREATE EXTENSION fails after a plain PGXS
// build. The plugin patches the Makefile's DATA line to install every
// pg_rational--*.sql script, then builds with PGXS.
package main

import (
	"fmt"
	"strings"

	"github.com/monogres/monogres/plugins/sdk"
)

func main() { sdk.Run(plan) }

func plan(req sdk.Request) (sdk.Plan, error) {
	mk, err := req.ReadFile("Makefile")
	if err != nil {
		return sdk.Plan{}, err
	}
	var scripts []string
	for _, f := range req.Files {
		if strings.HasPrefix(f, req.Extension.Name+"--") && strings.HasSuffix(f, ".sql") && !strings.Contains(f, "/") {
			scripts = append(scripts, f)
		}
	}
	for _, line := range strings.Split(string(mk), "\n") {
		if strings.HasPrefix(line, "DATA =") {
			fix, err := sdk.Substitute(req, "Makefile", line+"\n", "DATA = "+strings.Join(scripts, " ")+"\n")
			if err != nil {
				return sdk.Plan{}, err
			}
			return sdk.Plan{Patches: []sdk.Patch{fix}, Commands: sdk.PGXS(req)}, nil
		}
	}
	return sdk.Plan{}, fmt.Errorf("Makefile has no DATA = line to fix")
}
