// Command genfile is an example monogres plugin. It shows the three things an
// extension build most often needs beyond plain PGXS:
//
//   - generated files: every *.in template in the source tree is expanded
//     (@EXTENSION@, @EXTVERSION@, @PG_MAJOR@, @PG_VERSION@) into the file
//     without the .in suffix;
//   - a patch: -Werror is removed from the top-level Makefile (new compilers
//     add warnings that break old extensions), unless params.werror = "keep";
//   - a non-default make target: params.target (default "all") is built
//     before "install".
//
// Build it with:
//
//	GOOS=wasip1 GOARCH=wasm go build -trimpath -o genfile.wasm ./plugins/examples/genfile
package main

import (
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/monogres/monogres/plugins/sdk"
)

func main() { sdk.Run(plan) }

func plan(req sdk.Request) (sdk.Plan, error) {
	var p sdk.Plan
	expand := strings.NewReplacer(
		"@EXTENSION@", req.Extension.Name,
		"@EXTVERSION@", req.Extension.Version,
		"@PG_MAJOR@", strconv.Itoa(req.Postgres.Major),
		"@PG_VERSION@", req.Postgres.Version,
	)
	for _, f := range req.Files {
		if !strings.HasSuffix(f, ".in") {
			continue
		}
		tmpl, err := os.ReadFile(path.Join(req.Paths.Mount, f))
		if err != nil {
			return p, fmt.Errorf("reading template: %v", err)
		}
		p.Files = append(p.Files, sdk.File{Path: strings.TrimSuffix(f, ".in"), Content: expand.Replace(string(tmpl))})
	}

	if req.Params["werror"] != "keep" {
		mk, err := os.ReadFile(path.Join(req.Paths.Mount, "Makefile"))
		if err != nil {
			return p, fmt.Errorf("this plugin builds with PGXS and needs a Makefile: %v", err)
		}
		if diff := dropWerror(string(mk)); diff != "" {
			p.Patches = append(p.Patches, sdk.Patch{Path: "Makefile", Diff: diff})
		}
	}

	target := req.Params["target"]
	if target == "" {
		target = "all"
	}
	makeArgs := []string{"make", "USE_PGXS=1", "PG_CONFIG=" + req.Paths.PGConfig, sdk.RelativeRpath}
	p.Commands = []sdk.Command{
		{Argv: append(append([]string(nil), makeArgs...), target)},
		{Argv: append(append([]string(nil), makeArgs...), "install", "DESTDIR="+req.Paths.Out)},
	}
	return p, nil
}

// dropWerror returns a unified diff removing " -Werror" from every line of
// the Makefile text mk, or "" when there is none.
func dropWerror(mk string) string {
	var b strings.Builder
	for i, line := range strings.Split(mk, "\n") {
		if !strings.Contains(line, "-Werror") {
			continue
		}
		fixed := strings.ReplaceAll(strings.ReplaceAll(line, " -Werror", ""), "-Werror", "")
		fmt.Fprintf(&b, "@@ -%d +%d @@\n-%s\n+%s\n", i+1, i+1, line, fixed)
	}
	return b.String()
}
