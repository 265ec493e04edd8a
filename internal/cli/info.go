package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/plan"
)

func init() { register(newInfoCmd) }

func newInfoCmd(e *env) *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "info CELL",
		Short: "show what monogres knows of a cell: options, inputs, root, action key, cache",
		Long: `Show one cell without building anything: its options and the options dropped
(with the reasons), the locked inputs a build needs (sha256, present in the
store or not), the toolchain root's package set, the action key and whether
the action cache has it, the package path, the last build's log and how
long it took.`,
		Example: `  monogres info 'postgres~15.18~barebones~amd64'
  monogres info --json 'pg_similarity~1.0~postgres~15.18~regular~amd64'`,
		Args:              exactArgs(1),
		ValidArgsFunction: e.completeCells,
		RunE: func(_ *cobra.Command, args []string) error {
			in, err := e.cellInfo(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(e.stdout).Encode(newInfoJSON(in))
			}
			printInfo(e.stdout, in)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the facts as one JSON object")
	return c
}

// cellInfo is app.Info with a did-you-mean for a misspelled cell.
func (e *env) cellInfo(name string) (*app.Info, error) {
	a := e.app()
	in, err := a.Info(e.ctx, name)
	if err != nil && strings.HasPrefix(err.Error(), "no cell is named") {
		return nil, fmt.Errorf("no cell is named %s%s (see `monogres plan`)", name, didYouMean(a.SuggestCells(name)))
	}
	return in, err
}

// infoJSON is `info --json`: durations in seconds.
type infoJSON struct {
	Cell         string         `json:"cell"`
	State        string         `json:"state"`
	Options      []string       `json:"options"`
	Dropped      []plan.Dropped `json:"dropped,omitempty"`
	Parent       string         `json:"parent,omitempty"`
	LockError    string         `json:"lock_error,omitempty"`
	Inputs       []inputJSON    `json:"inputs"`
	Missing      int            `json:"missing"`
	Root         []string       `json:"root"`
	RootKey      string         `json:"root_key,omitempty"`
	RootComposed bool           `json:"root_composed"`
	RootError    string         `json:"root_error,omitempty"`
	ActionKey    string         `json:"action_key,omitempty"`
	KeyReason    string         `json:"key_reason,omitempty"`
	Cached       bool           `json:"cached"`
	Verified     bool           `json:"verified"`
	Package      string         `json:"package,omitempty"`
	PackagePath  string         `json:"package_path,omitempty"`
	Log          string         `json:"log,omitempty"`
	Unfinished   bool           `json:"unfinished,omitempty"`
	TookSeconds  float64        `json:"took_seconds,omitempty"`
}

type inputJSON struct {
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	SHA256  string `json:"sha256"`
	Present bool   `json:"present"`
}

func newInfoJSON(in *app.Info) infoJSON {
	j := infoJSON{Cell: in.Name, State: string(in.State), Options: optionNames(in.Cell), Dropped: in.Dropped, Parent: in.Parent,
		LockError: in.LockErr, Missing: in.Missing, Root: in.Root, RootKey: in.RootKey, RootComposed: in.RootComposed,
		RootError: in.RootErr, ActionKey: in.ActionKey, KeyReason: in.KeyReason, Cached: in.Cached, Verified: in.Verified,
		Package: in.Package, PackagePath: in.PackagePath, Log: lastLog(in), Unfinished: in.Unfinished, TookSeconds: in.Took.Seconds(),
		Inputs: []inputJSON{}}
	for _, x := range in.Inputs {
		j.Inputs = append(j.Inputs, inputJSON{x.Name, x.Version, x.SHA256, x.Present})
	}
	if j.Root == nil {
		j.Root = []string{}
	}
	return j
}

func optionNames(c plan.Cell) []string {
	out := []string{}
	for _, o := range c.Options {
		out = append(out, string(o))
	}
	return out
}

// lastLog is the log of the cell's newest build (of any action key), else
// that of its current action.
func lastLog(in *app.Info) string {
	if len(in.Logs) > 0 {
		return in.Logs[0].Path
	}
	return in.Log
}

func printInfo(w io.Writer, in *app.Info) {
	row := func(k, f string, a ...any) { fmt.Fprintf(w, "%-9s %s\n", k, fmt.Sprintf(f, a...)) }
	row("cell", "%s", in.Name)
	state := string(in.State)
	if state == "" {
		state = "not locked"
	}
	row("state", "%s", state)
	if in.Parent != "" {
		row("parent", "%s", in.Parent)
	}
	opts := strings.Join(optionNames(in.Cell), ",")
	if opts == "" {
		opts = "(none)"
	}
	row("options", "%s", opts)
	for _, d := range in.Dropped {
		row("dropped", "%s: %s", d.Option, d.Reason)
	}
	if in.LockErr != "" {
		row("lock", "%s", in.LockErr)
	}
	switch {
	case in.ActionKey == "":
		row("action", "unknown: %s", in.KeyReason)
	case in.Cached:
		row("action", "%s (cached)", in.ActionKey)
	default:
		row("action", "%s (not built)", in.ActionKey)
	}
	if in.Package != "" {
		row("package", "sha256:%s", in.Package)
		row("path", "%s", in.PackagePath)
		row("verified", "%v", in.Verified)
	}
	if l := lastLog(in); l != "" {
		row("log", "%s", l)
	}
	if in.Unfinished {
		row("last run", "ended without a result: %s", in.LastLine)
	}
	if in.Took > 0 {
		row("took", "%s (last build)", in.Took.Round(1e9))
	}
	switch {
	case in.RootErr != "":
		row("root", "none: %s", in.RootErr)
	case in.RootKey != "":
		composed := "not composed yet"
		if in.RootComposed {
			composed = "composed"
		}
		row("root", "%s (%s, %d packages)", short(in.RootKey), composed, len(in.Root))
		for _, p := range in.Root {
			fmt.Fprintf(w, "%-9s   %s\n", "", p)
		}
	}
	if len(in.Inputs) > 0 {
		row("inputs", "%d (%d missing from the store)", len(in.Inputs), in.Missing)
		for _, x := range in.Inputs {
			mark := "present"
			if !x.Present {
				mark = "missing"
			}
			fmt.Fprintf(w, "%-9s   %s sha256:%s %s %s\n", "", mark, x.SHA256, x.Name, x.Version)
		}
	}
}
