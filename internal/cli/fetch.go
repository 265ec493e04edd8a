package cli

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/internal/app"

	"github.com/monogres/monogres/internal/suggest"
	"github.com/monogres/monogres/lock"
)

func init() { register(newFetchCmd) }

func newFetchCmd(e *env) *cobra.Command {
	var jobs int
	var offline, asJSON bool
	c := &cobra.Command{
		Use:   "fetch [INPUT|CELL|GLOB]...",
		Short: "fetch locked inputs into the content-addressed store",
		Long: `Fetch the locked inputs named by INPUT or GLOB (default: all of them) into the
store in parallel, each verified by sha256: from the store, the distdirs,
the URLs through the manifest's mirrors, then apt. Input names look like
postgres/15, extension/NAME/VERSION, plugin/NAME, deb/amd64/gcc-12; a cell
name or glob (it has a ~) stands for every input a build of those cells
needs (sources, plugin, toolchain root .debs).`,
		Example: `  monogres fetch
  monogres fetch postgres/15 'deb/arm64/*'
  monogres fetch 'postgres~15.18~*~amd64'
  monogres fetch --offline --json`,
		ValidArgsFunction: e.completeInputsAndCells,
		RunE: func(_ *cobra.Command, names []string) error {
			return runFetch(e, names, jobs, offline, asJSON)
		},
	}
	c.Flags().IntVarP(&jobs, "jobs", "j", 8, "parallel downloads")
	c.Flags().BoolVar(&offline, "offline", false, "use only the store and distdirs")
	c.Flags().BoolVar(&asJSON, "json", false, "print progress as JSON lines")
	return c
}

func runFetch(e *env, names []string, jobs int, offline, asJSON bool) error {
	m, l, err := e.loadLocked()
	if err != nil {
		return err
	}
	// Cell names have a ~, input names do not: a cell (or glob of cells)
	// stands for every input its build needs.
	var cells, ins []string
	for _, n := range names {
		if strings.Contains(n, "~") {
			cells = append(cells, n)
		} else {
			ins = append(ins, n)
		}
	}
	var inputs []lock.Input
	if len(ins) > 0 || len(cells) == 0 {
		if inputs, err = selectInputs(l, ins); err != nil {
			return err
		}
	}
	if len(cells) > 0 {
		g, err := e.app().Graph(e.ctx, cells, false)
		if err != nil {
			return err
		}
		inputs = append(inputs, g.Inputs...)
	}
	st, err := app.OpenStore()
	if err != nil {
		return err
	}
	if err := st.Register(e.lockPath, nil); err != nil {
		return err
	}
	f, err := app.Fetcher(m, st, jobs, offline, e.sink(asJSON))
	if err != nil {
		return err
	}
	if err := f.Fetch(e.ctx, inputs); err != nil {
		return err
	}
	if !asJSON {
		fmt.Fprintf(e.stdout, "%d inputs present in %s\n", len(inputs), st.Dir())
	}
	return nil
}

// selectInputs returns the locked inputs named by names (exact names or
// globs such as "deb/arm64/*"), or all of them.
func selectInputs(l *lock.Lock, names []string) ([]lock.Input, error) {
	if len(names) == 0 {
		return l.Inputs, nil
	}
	var out []lock.Input
	for _, n := range names {
		found := false
		for _, in := range l.Inputs {
			if globMatch(n, in.Name) {
				out = append(out, in)
				found = true
			}
		}
		if !found {
			return nil, fmt.Errorf("no locked input matches %q%s (names look like postgres/15, deb/amd64/gcc-12)", n, didYouMean(suggestInputs(l, n)))
		}
	}
	return out, nil
}

// globMatch matches name against a pattern whose * matches any run of
// characters, slashes included ("deb/*" matches "deb/amd64/gcc-12").
func globMatch(pattern, name string) bool {
	re := "^" + strings.ReplaceAll(strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*"), `\?`, ".") + "$"
	ok, _ := regexp.MatchString(re, name)
	return ok
}

// suggestInputs are the lock's input names closest to name.
func suggestInputs(l *lock.Lock, name string) []string {
	if l == nil {
		return nil
	}
	names := make([]string, len(l.Inputs))
	for i, in := range l.Inputs {
		names[i] = in.Name
	}
	return suggest.Closest(name, append(names, "toolchain"))
}
