// Command pgpatch is a test plugin that replaces the built-in Postgres
// recipe: it patches a header of the source tree it is given and returns
// a configure/make plan with the cell's options.
package main

import (
	"fmt"

	"github.com/monogres/monogres/plugins/sdk"
)

func main() { sdk.Run(plan) }

func plan(req sdk.Request) (sdk.Plan, error) {
	if req.Extension.Name != "" {
		return sdk.Plan{}, fmt.Errorf("pgpatch builds Postgres cells, not the extension %s", req.Extension.Name)
	}
	patch, err := sdk.Substitute(req, "src/include/pg_config_manual.h", "#define NAMEDATALEN 64", "#define NAMEDATALEN 128")
	if err != nil {
		return sdk.Plan{}, err
	}
	configure := []string{"./configure", "--prefix=" + req.Paths.Prefix}
	for _, o := range req.Options {
		configure = append(configure, "--with-"+o)
	}
	return sdk.Plan{
		Patches: []sdk.Patch{patch},
		Commands: []sdk.Command{
			{Argv: configure},
			{Argv: []string{"make", "-j$MONOGRES_JOBS"}},
			{Argv: []string{"make", "install", "DESTDIR=" + req.Paths.Out}},
		},
	}, nil
}
