// Command catalogfix is the build plugin scripts/catalog-overrides.toml uses
// for catalog extensions whose upstream tarball does not build as it is: a
// PGXS build after the edits its params describe, so each fix is data in
// the overrides rather than a plugin per extension.
//
// Params (all optional):
//
//   - "sN.file", "sN.old", "sN.new" (N = 1..9): replace every occurrence of
//     old by new in file (relative to the source tree); old must occur, so
//     an upstream change fails the plan instead of building something else.
//     Several substitutions of one file become one patch, applied in N order.
//   - "fN.path", "fN.content": write a file into the source tree.
//   - "before": a /bin/sh script run at the source root before make (for
//     example "autoreconf -i && ./configure --with-pgconfig=$PG_CONFIG").
//   - "make_args": space-separated arguments added to both make commands.
//
// Params cannot hold control characters: in the values of sN.old, sN.new
// and fN.content the two characters \n stand for a newline and \t for a
// tab.
//
// Then it builds with sdk.PGXS. Build it with:
//
//	monogres plugin build catalog/catalogfix -o catalog/dist/catalogfix.wasm
package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/monogres/monogres/plugins/sdk"
)

func main() { sdk.Run(plan) }

// unescape turns the \n and \t of a param value into a newline and a tab.
var unescape = strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace

func plan(req sdk.Request) (sdk.Plan, error) {
	var p sdk.Plan
	known := map[string]bool{"before": true, "make_args": true}
	var files []string
	edits := map[string][][2]string{}
	for n := 1; n <= 9; n++ {
		s := "s" + strconv.Itoa(n) + "."
		known[s+"file"], known[s+"old"], known[s+"new"] = true, true, true
		if f := req.Params[s+"file"]; f != "" {
			old := unescape(req.Params[s+"old"])
			if old == "" {
				return p, fmt.Errorf("params %sold: the text to replace is empty", s)
			}
			if _, ok := edits[f]; !ok {
				files = append(files, f)
			}
			edits[f] = append(edits[f], [2]string{old, unescape(req.Params[s+"new"])})
		}
		f := "f" + strconv.Itoa(n) + "."
		known[f+"path"], known[f+"content"] = true, true
		if path := req.Params[f+"path"]; path != "" {
			p.Files = append(p.Files, sdk.File{Path: path, Content: unescape(req.Params[f+"content"])})
		}
	}
	for k := range req.Params {
		if !known[k] {
			return p, fmt.Errorf("params %q: unknown (want sN.file/sN.old/sN.new, fN.path/fN.content, before, make_args)", k)
		}
	}
	for _, f := range files {
		b, err := req.ReadFile(f)
		if err != nil {
			return p, err
		}
		text := string(b)
		for _, e := range edits[f] {
			if !strings.Contains(text, e[0]) {
				return p, fmt.Errorf("substitute in %s: %q does not occur in the file", f, e[0])
			}
			text = strings.ReplaceAll(text, e[0], e[1])
		}
		d := sdk.Diff(f, string(b), text)
		if d.Diff == "" {
			return p, fmt.Errorf("substitute in %s: the substitutions change nothing", f)
		}
		p.Patches = append(p.Patches, d)
	}
	if s := req.Params["before"]; s != "" {
		p.Commands = append(p.Commands, sdk.Command{Argv: []string{"/bin/sh", "-ec", s}, Env: map[string]string{"PG_CONFIG": req.Paths.PGConfig}})
	}
	p.Commands = append(p.Commands, sdk.PGXS(req, strings.Fields(req.Params["make_args"])...)...)
	return p, nil
}
