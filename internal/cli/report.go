package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/build"
	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/manifest"

	"github.com/monogres/monogres/internal/plan"
)

func init() { register(newReportCmd) }

func newReportCmd(e *env) *cobra.Command {
	var asJSON, markdown bool
	ext := &cobra.Command{
		Use:   "extensions [GLOB]...",
		Short: "every extension cell: built, failed, dropped or not built, with the one-line reason",
		Long: `Report every extension cell of the manifest (or those GLOB matches) from
the store and the action cache, without building: built (the action cache
has its current action), failed (a build of its current action ran and
left a log but no package: the reason is the log's failure line), dropped
(its toolchain layer cannot be resolved, or the manifest excludes it) or
not built (with what is missing).`,
		Example: `  monogres report extensions
  monogres report extensions --json 'pglogical~*'`,
		ValidArgsFunction: e.completeCells,
		RunE: func(_ *cobra.Command, patterns []string) error {
			rows, err := extensionReport(e, patterns)
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(e.stdout, rows)
				return nil
			}
			if markdown {
				return writeStatusTable(e, rows)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "CELL\tSTATUS\tREASON")
			for _, r := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Cell, r.Status, r.Reason)
			}
			tw.Flush()
			n := map[string]int{}
			for _, r := range rows {
				n[r.Status]++
			}
			fmt.Fprintf(e.stdout, "%d extension cells: %d built, %d failed, %d dropped, %d not built\n", len(rows), n[statusBuilt], n[statusFailed], n[statusDropped], n[statusNotBuilt])
			return nil
		},
	}
	ext.Flags().BoolVar(&asJSON, "json", false, "print a JSON array, one object per cell")
	ext.Flags().BoolVar(&markdown, "markdown", false, "print the status table of the catalog (docs/extensions-status.md): every catalog entry, the cells reported, and the figures")
	return group(&cobra.Command{
		Use:   "report",
		Short: "report the state of the manifest's cells (report extensions)",
	}, ext)
}

// The statuses of an extension cell.
const (
	statusBuilt    = "built"
	statusFailed   = "failed"
	statusDropped  = "dropped"
	statusNotBuilt = "not built"
)

// extensionRow is one extension cell of the report.
type extensionRow struct {
	Cell      string `json:"cell"`
	Extension string `json:"extension"`
	Version   string `json:"version"`
	Parent    string `json:"parent"`
	Status    string `json:"status"`
	Reason    string `json:"reason"`
	Log       string `json:"log,omitempty"`
	Package   string `json:"package,omitempty"`
	// Regress is the regression suite's outcome from the package's
	// manifest (CELL.json): "N/M passed", "advisory: ...", or "" (no suite).
	Regress       string `json:"regress,omitempty"`
	RegressPassed bool   `json:"regress_passed,omitempty"`
}

// extensionReport reads every extension cell's state (app.Status).
func extensionReport(e *env, patterns []string) ([]extensionRow, error) {
	s, err := e.app().Status(e.ctx)
	if err != nil {
		return nil, err
	}
	var rows []extensionRow
	for _, in := range s.Cells {
		if in.Extension == "" || (len(patterns) > 0 && !plan.Match(patterns, in.Name)) {
			continue
		}
		r := extensionRow{Cell: in.Name, Extension: in.Extension, Version: in.ExtensionVersion, Parent: in.Parent, Log: in.Log, Package: in.Package}
		dropped := ""
		for _, d := range in.Dropped {
			if isCellDrop(string(d.Option)) {
				dropped = d.Reason
			}
		}
		switch {
		case in.Cached:
			r.Status, r.Reason = statusBuilt, "smoke test passed; package "+in.Package
			if in.Verified {
				r.Reason += ", verified by a rebuild"
			}
			r.Regress, r.RegressPassed = regressOf(in.ActionKey)
		case in.RootErr != "" || dropped != "":
			r.Status, r.Reason = statusDropped, firstNonEmpty(dropped, in.RootErr)
		case in.Unfinished:
			r.Status, r.Reason = statusFailed, failureLine(in.Log)
		case in.ActionKey != "":
			r.Status, r.Reason = statusNotBuilt, "not built yet (`monogres build "+in.Name+"`)"
		default:
			r.Status, r.Reason = statusNotBuilt, firstNonEmpty(in.KeyReason, in.LockErr, "not built yet")
		}
		if s.NoLock && r.Status == statusNotBuilt {
			r.Reason = "no " + s.LockPath + ": run `monogres lock`"
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// isCellDrop reports whether a Dropped entry drops the whole cell (not
// one option): the toolchain layer, or the manifest excluding the target or
// Postgres version.
func isCellDrop(what string) bool {
	return what == "toolchain" || what == string(plan.Excluded)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// buildErrorMarks are what the first line of a failed build's own error
// holds (compiler, make, configure, CMake, pkg-config, linker).
var buildErrorMarks = []string{"CMake Error", "fatal error:", "configure: error:", ": error:", "*** ", "cannot find -l", "cannot create", "not found, required by", "was not found in the pkg-config search path"}

// failureLine is why the build that wrote log failed: its last
// "monogres: FAILED: " line, else its last non-empty line. A sandboxed
// command's failure gets the first SQL error, else the first build error
// line (with the next line after a "CMake Error at ..." header).
func failureLine(log string) string {
	f, err := os.Open(log)
	if err != nil {
		return "a build ran but left no package (log " + log + ": " + err.Error() + ")"
	}
	defer f.Close()
	var failed, last, sqlErr, buildErr string
	cmakeNext := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(l, build.FailedPrefix); ok {
			failed = rest
			continue
		}
		if l != "" {
			last = l
		}
		if i := strings.Index(l, "ERROR:  "); i >= 0 && failed == "" && sqlErr == "" {
			sqlErr = l[i:] // the server's or psql's error, e.g. a CREATE EXTENSION that failed
		}
		switch {
		case cmakeNext && l != "":
			buildErr, cmakeNext = buildErr+" "+l, false
		case buildErr == "" && failed == "" && !strings.HasPrefix(l, "gcc ") && slices.ContainsFunc(buildErrorMarks, func(m string) bool { return strings.Contains(l, m) }):
			buildErr, cmakeNext = l, strings.HasPrefix(l, "CMake Error")
		}
	}
	if failed != "" {
		if why := firstNonEmpty(sqlErr, buildErr); why != "" && strings.Contains(failed, "sandboxed command") {
			if len(why) > 240 {
				why = why[:240] + "..."
			}
			failed += " (" + why + ")"
		}
		return failed
	}
	if last == "" {
		return "a build ran but left no package (empty log " + log + ")"
	}
	return "build left no package; its log ends with: " + last
}

// writeStatusTable prints a Markdown table of every catalog entry beside
// the manifest: the reported cells of the entries the manifest selected,
// and why the others have none (a tarball that did not download, a build
// kind not known); then the figures.
func writeStatusTable(e *env, rows []extensionRow) error {
	m, err := manifest.Load(e.manifestPath)
	if err != nil {
		return err
	}
	cat, err := manifest.ReadCatalog(manifest.CatalogFilePath(e.manifestPath))
	if err != nil {
		return err
	}
	unselected := map[string]string{}
	for _, u := range m.Unselected {
		unselected[u.Name] = u.Reason
	}
	byExt := map[string][]extensionRow{}
	for _, r := range rows {
		byExt[r.Extension] = append(byExt[r.Extension], r)
	}
	cell := func(s string) string { return strings.ReplaceAll(s, "|", "\\|") }
	w := e.stdout
	fmt.Fprintln(w, "| Extension | Version | Build | Cell | Status | Reason | Regression |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|")
	var fetchable, built, failed, dropped, notBuilt, suites, regressPass int
	for _, x := range cat.Extensions {
		v := x.Preferred()
		ok := slices.ContainsFunc(x.Versions, func(v manifest.CatalogVersion) bool { return v.Fetchable })
		if ok {
			fetchable++
		}
		rs := byExt[x.Name]
		if len(rs) == 0 {
			status, why := "not fetchable", v.Unfetchable
			switch {
			case ok && unselected[x.Name] != "":
				status, why = "not selected", unselected[x.Name]
			case ok && v.Build == "":
				status, why = "not selected", "no build kind recognised in its tarball (no configure, CMakeLists.txt or Makefile at the top)"
			case ok:
				status, why = "not selected", "not in this manifest's selection"
			}
			fmt.Fprintf(w, "| %s | %s | %s | | %s | %s | |\n", x.Name, v.Version, cell(v.Build), status, cell(why))
			continue
		}
		for _, r := range rs {
			switch r.Status {
			case statusBuilt:
				built++
			case statusFailed:
				failed++
			case statusDropped:
				dropped++
			default:
				notBuilt++
			}
			if r.Regress != "" {
				suites++
				if r.RegressPassed {
					regressPass++
				}
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", x.Name, r.Version, cell(v.Build), strings.TrimPrefix(r.Parent, "postgres~"), r.Status, cell(r.Reason), cell(r.Regress))
		}
	}
	fmt.Fprintln(w)
	pct := func(n int) string {
		if fetchable == 0 {
			return "0%"
		}
		return fmt.Sprintf("%d%%", n*100/fetchable)
	}
	fmt.Fprintf(w, "%d source packages in the catalog; %d with a tarball fetchable from here.\n", len(cat.Extensions), fetchable)
	fmt.Fprintf(w, "Of the fetchable ones: %d built and passed the smoke test (%s), %d failed, %d dropped, %d not built.\n", built, pct(built), failed, dropped, notBuilt)
	fmt.Fprintf(w, "Of the built ones, %d ran their own regression suite: %d passed every test.\n", suites, regressPass)
	return nil
}

// regressOf reads the regression outcome the package manifest (CELL.json)
// of a cached action records.
func regressOf(key string) (string, bool) {
	st, err := app.OpenStore()
	if err != nil {
		return "", false
	}
	ac, ok, err := build.Lookup(st, key)
	if err != nil || !ok {
		return "", false
	}
	b, err := os.ReadFile(st.Path(ac.Manifest))
	if err != nil {
		return "", false
	}
	var man struct {
		Regress *struct {
			Passed   []string `json:"passed"`
			Failed   []string `json:"failed"`
			Advisory string   `json:"advisory"`
			Error    string   `json:"error"`
		} `json:"regress"`
	}
	if json.Unmarshal(b, &man) != nil || man.Regress == nil {
		return "", false
	}
	g := man.Regress
	out := fmt.Sprintf("%d/%d passed", len(g.Passed), len(g.Passed)+len(g.Failed))
	if len(g.Failed) > 0 {
		out += " (failed: " + strings.Join(g.Failed, ", ") + ")"
	}
	if g.Error != "" {
		out += "; " + firstLine(g.Error)
	}
	if g.Advisory != "" {
		out += "; advisory: " + g.Advisory
	}
	return out, len(g.Failed) == 0 && g.Error == "" && len(g.Passed) > 0
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}
