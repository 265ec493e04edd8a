package cli

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/monogres/monogres/fetch"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/store"
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
	st, err := e.openStore()
	if err != nil {
		return err
	}
	if err := st.Register(e.lockPath, nil); err != nil {
		return err
	}
	f, err := e.fetcher(m, st, *jobs, *offline, e.sink(*asJSON))
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

// fetcher configures a Fetcher from the manifest's mirrors and distdirs;
// file:// URLs may read the manifest's directory and the distdirs, and the
// download limits come from the environment (fetch.LimitsFromEnv).
func (e *env) fetcher(m *manifest.Manifest, st *store.Store, jobs int, offline bool, sink eventSink) (*fetch.Fetcher, error) {
	limits, err := fetch.LimitsFromEnv()
	if err != nil {
		return nil, err
	}
	f := &fetch.Fetcher{Store: st, Jobs: jobs, Offline: offline, Apt: true, Sink: sink, Limits: limits}
	if dir, err := filepath.Abs(filepath.Dir(m.File)); err == nil {
		f.LocalDirs = append(f.LocalDirs, dir)
	}
	for _, d := range m.Distdirs {
		if !filepath.IsAbs(d) {
			d = filepath.Join(filepath.Dir(m.File), d)
		}
		f.Distdirs = append(f.Distdirs, d)
		if abs, err := filepath.Abs(d); err == nil {
			f.LocalDirs = append(f.LocalDirs, abs)
		}
	}
	for _, p := range m.Plugins {
		if p.Path != "" { // a local plugin is found beside itself, by name and sha256
			f.Distdirs = append(f.Distdirs, filepath.Dir(filepath.Join(filepath.Dir(m.File), p.Path)))
		}
	}
	for _, mr := range m.Mirrors {
		f.Mirrors = append(f.Mirrors, fetch.Mirror{From: mr.From, To: mr.To})
	}
	return f, nil
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

func (e *env) openStore() (*store.Store, error) {
	dir, err := store.DefaultDir()
	if err != nil {
		return nil, err
	}
	return store.Open(dir)
}
