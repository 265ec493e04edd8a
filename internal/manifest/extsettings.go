package manifest

import (
	"fmt"
	"strings"
)

// ExtensionSettings are an extension's build and test settings beyond
// what it is and where it comes from; they are embedded in Extension, so
// their keys sit directly in [[extension]].
type ExtensionSettings struct {
	// SharedPreloadLibraries go into the server's shared_preload_libraries
	// for the smoke test and the regression suite (pglogical needs it).
	SharedPreloadLibraries []string `toml:"shared_preload_libraries" json:"shared_preload_libraries,omitempty"`
	// Conf are extra postgresql.conf lines ("wal_level = logical").
	Conf []string `toml:"conf" json:"conf,omitempty"`
	// SmokeSQL replaces the smoke test's default statements (CREATE
	// EXTENSION of every control file the package installs); each must
	// succeed, and one answering f fails the test.
	SmokeSQL []string `toml:"smoke_sql" json:"smoke_sql,omitempty"`
	// Requires names other extensions of the manifest whose packages must
	// be installed beside this one to build and test it (its control file
	// requires them: pgq_node requires pgq). Each is built against the
	// same Postgres cell first, with its own requirements.
	Requires []string `toml:"requires" json:"requires,omitempty"`
	// Bundle copies the shared libraries the package needs from the
	// toolchain root into its lib/, so it runs on a host without them.
	Bundle bool `toml:"bundle" json:"bundle,omitempty"`
	// Regress says what the extension's own pg_regress suite does to the
	// cell: "" runs it when the source has one and a failure fails the
	// cell; "advisory" runs it and records failures only; "skip" does not
	// run it. The last two need RegressReason.
	Regress       string `toml:"regress" json:"regress,omitempty"`
	RegressReason string `toml:"regress_reason" json:"regress_reason,omitempty"`
	// ConfigureArgs are added to ./configure (build = "configure");
	// CMakeArgs to cmake (build = "cmake"); MakeArgs to both make command
	// lines of a PGXS build (build = "pgxs": "OPTFLAGS=", "-j1").
	ConfigureArgs []string `toml:"configure_args" json:"configure_args,omitempty"`
	CMakeArgs     []string `toml:"cmake_args" json:"cmake_args,omitempty"`
	MakeArgs      []string `toml:"make_args" json:"make_args,omitempty"`
	// Exclude lists the targets and Postgres versions the extension is not
	// built for; plan shows those cells as dropped with the reason.
	Exclude []Exclude `toml:"exclude" json:"exclude,omitempty"`
}

// Exclude leaves an extension's cells out: those for Target (every target
// if empty) and Postgres versions matching Postgres (every version if
// unset).
type Exclude struct {
	Target   Arch   `toml:"target" json:"target,omitempty"`
	Postgres Spec   `toml:"postgres" json:"postgres,omitzero"`
	Reason   string `toml:"reason" json:"reason"`
}

// Excluded returns the reason the extension is not built for Postgres v
// on target arch, if an exclude matches.
func (s ExtensionSettings) Excluded(v Version, arch Arch) (string, bool) {
	for _, x := range s.Exclude {
		if (x.Target == "" || x.Target == arch) && (x.Postgres.String() == "" || x.Postgres.Match(v)) {
			return x.Reason, true
		}
	}
	return "", false
}

// check validates the settings of the extension named by where.
func (s ExtensionSettings) check(where string) error {
	switch s.Regress {
	case "":
	case "advisory", "skip":
		if strings.TrimSpace(s.RegressReason) == "" {
			return fmt.Errorf("%s: regress = %q needs regress_reason (why the suite cannot gate the build)", where, s.Regress)
		}
	default:
		return fmt.Errorf("%s: regress = %q: want \"advisory\" or \"skip\" (or leave it out to run the suite)", where, s.Regress)
	}
	for i, l := range s.SharedPreloadLibraries {
		if l == "" || strings.ContainsAny(l, ", '\"\n") {
			return fmt.Errorf("%s: shared_preload_libraries[%d] %q: want a library name (no commas, quotes or spaces)", where, i, l)
		}
	}
	for i, l := range s.Conf {
		if k, _, ok := strings.Cut(l, "="); !ok || strings.TrimSpace(k) == "" || strings.Contains(l, "\n") {
			return fmt.Errorf("%s: conf[%d] %q: want one postgresql.conf line, name = value", where, i, l)
		}
	}
	for i, q := range s.SmokeSQL {
		if strings.TrimSpace(q) == "" {
			return fmt.Errorf("%s: smoke_sql[%d] is empty", where, i)
		}
	}
	for i, x := range s.Exclude {
		if strings.TrimSpace(x.Reason) == "" {
			return fmt.Errorf("%s: exclude[%d]: reason is required", where, i)
		}
	}
	return nil
}

// checkRequires checks that every extension's requires names another
// extension of the manifest and that no chain of them leads back to
// where it started.
func checkRequires(exts []Extension) error {
	byName := map[string]*Extension{}
	for i := range exts {
		byName[exts[i].Name] = &exts[i]
	}
	for i, e := range exts {
		for j, r := range e.Requires {
			if byName[r] == nil {
				return fmt.Errorf("extension[%d] %q: requires[%d] %q is not an extension of the manifest", i, e.Name, j, r)
			}
		}
	}
	// A walk from each extension; a name met again on the current path is
	// a cycle.
	state := map[string]int{} // 1: on the path, 2: done
	var walk func(name string, path []string) error
	walk = func(name string, path []string) error {
		switch state[name] {
		case 1:
			return fmt.Errorf("extension %q: requires form a cycle: %s", name, strings.Join(append(path, name), " → "))
		case 2:
			return nil
		}
		state[name] = 1
		for _, r := range byName[name].Requires {
			if err := walk(r, append(path, name)); err != nil {
				return err
			}
		}
		state[name] = 2
		return nil
	}
	for _, e := range exts {
		if err := walk(e.Name, nil); err != nil {
			return err
		}
	}
	return nil
}
