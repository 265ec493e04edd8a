package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/lock"
)

func init() { register(newVersionCmd) }

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "print monogres' version, the lock format and the recipe versions",
		Long:    "Print monogres' version (module version and VCS revision when built from git), the lock file format it reads and writes, and the recipe versions that are part of every action key (a new recipe version rebuilds every cell).",
		Example: "  monogres version\n  monogres --version",
		Args:    noArgs,
		RunE: func(*cobra.Command, []string) error {
			fmt.Fprintf(e.stdout, "%s\n%s", versionLine(), versionDetails())
			return nil
		},
	}
}

// versionLine is "monogres VERSION (REVISION)".
func versionLine() string {
	v, rev := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value[:min(12, len(s.Value))]
			case "vcs.modified":
				if s.Value == "true" && rev != "" {
					rev += "+dirty"
				}
			}
		}
	}
	if rev != "" {
		v += " (" + rev + ")"
	}
	return "monogres " + v
}

// versionDetails are the formats and recipe versions, one per line.
func versionDetails() string {
	return fmt.Sprintf("go: %s %s/%s\nlock format: %d\npostgres recipe: %s\nextension recipe: %s\n",
		runtime.Version(), runtime.GOOS, runtime.GOARCH, lock.FormatVersion, build.RecipeVersion, build.ExtensionRecipeVersion)
}
