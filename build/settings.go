package build

import (
	"slices"

	"github.com/monogres/monogres/plugins/sdk"
)

// Settings are how an extension cell is configured, smoke tested and
// regression tested, from its manifest entry (manifest.ExtensionSettings)
// and its recipe's plan.
type Settings struct {
	// SharedPreloadLibraries and Conf (postgresql.conf lines) configure
	// the server of the smoke test and the regression suite.
	SharedPreloadLibraries []string
	Conf                   []string
	// SmokeSQL replaces the default smoke statements: CREATE EXTENSION of
	// every control file the package installs.
	SmokeSQL []string
	// Bundle copies the package's runtime libraries (Closure) from the
	// toolchain root into its lib/.
	Bundle bool
	// Regress is "" (run the source's pg_regress suite if it has one; a
	// failure fails the cell), "advisory" (run it, record failures) or
	// "skip"; RegressReason says why for the last two.
	Regress       string
	RegressReason string
	// Args are added to ./configure (recipe "configure"), cmake (recipe
	// "cmake") or both make command lines (recipe "pgxs").
	Args []string
}

// withPlan adds what a recipe's plan sets to the manifest's settings; the
// plan's smoke statements replace the manifest's only when it has none.
func (s Settings) withPlan(p sdk.Plan) Settings {
	s.SharedPreloadLibraries = appendNew(s.SharedPreloadLibraries, p.SharedPreloadLibraries...)
	s.Conf = append(slices.Clip(s.Conf), p.Conf...)
	if len(s.SmokeSQL) == 0 {
		s.SmokeSQL = p.SmokeSQL
	}
	return s
}

// appendNew appends the xs that list does not have yet.
func appendNew(list []string, xs ...string) []string {
	list = slices.Clip(list)
	for _, x := range xs {
		if !slices.Contains(list, x) {
			list = append(list, x)
		}
	}
	return list
}
