// Command extra is a test plugin whose plan asks for a toolchain package
// (params.package) beyond the default toolchain.
package main

import "github.com/monogres/monogres/plugins/sdk"

func main() { sdk.Run(plan) }

func plan(req sdk.Request) (sdk.Plan, error) {
	return sdk.Plan{
		Commands:      []sdk.Command{{Argv: []string{"make", "USE_PGXS=1", "PG_CONFIG=" + req.Paths.PGConfig}}},
		ExtraPackages: []string{req.Params["package"]},
	}, nil
}
