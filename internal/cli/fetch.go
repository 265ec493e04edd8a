package cli

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/monogres/monogres/internal/app"

	"github.com/monogres/monogres/lock"
)

func runFetch(e *env, args []string) error {
	fl := flags("fetch", e.stderr)
	jobs := fl.Int("j", 8, "parallel downloads")
	offline := fl.Bool("offline", false, "use only the store and distdirs")
	asJSON := fl.Bool("json", false, "print progress as JSON lines")
	names, err := parse(fl, args)
	if err != nil {
		return err
	}
	m, l, err := e.loadLocked()
	if err != nil {
		return err
	}
	inputs, err := selectInputs(l, names)
	if err != nil {
		return err
	}
	st, err := app.OpenStore()
	if err != nil {
		return err
	}
	if err := st.Register(e.lockPath, nil); err != nil {
		return err
	}
	f, err := app.Fetcher(m, st, *jobs, *offline, e.sink(*asJSON))
	if err != nil {
		return err
	}
	if err := f.Fetch(e.ctx, inputs); err != nil {
		return err
	}
	if !*asJSON {
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
			return nil, fmt.Errorf("no locked input matches %q (names look like postgres/15, deb/amd64/gcc-12)", n)
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
