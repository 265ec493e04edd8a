package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/manifest"
	"github.com/monogres/monogres/internal/store"
	"github.com/monogres/monogres/lock"
	"github.com/monogres/monogres/toolchains"
)

func init() { register(newLockCmd) }

func newLockCmd(e *env) *cobra.Command {
	var check, asJSON bool
	var update []string
	c := &cobra.Command{
		Use:   "lock [--check | --update NAME...]",
		Short: "pin every input of monogres.toml by sha256 into monogres.lock",
		Long: `Resolve the manifest's version specs, hash what no index pins, resolve the
toolchain against the signed Debian archive and write monogres.lock
atomically; print • Added/Updated/Removed per input. An up-to-date lock is
never rewritten.

--check (alias --frozen) uses no network and writes nothing: exit 0 when the
lock matches the manifest, else exit 1 with the reasons and the diff.
--update NAME re-resolves only the named inputs (postgres/17,
extension/NAME/VERSION, plugin/NAME, toolchain).`,
		Example: `  monogres lock
  monogres lock --check
  monogres lock --update postgres/17 toolchain`,
		ValidArgsFunction: e.completeInputs,
		RunE: func(_ *cobra.Command, pos []string) error {
			return runLock(e, check, asJSON, update, pos)
		},
	}
	c.Flags().BoolVar(&check, "check", false, "exit 1 if monogres.lock does not match monogres.toml; no network, no write")
	c.Flags().BoolVar(&check, "frozen", false, "alias of --check")
	c.Flags().BoolVar(&asJSON, "json", false, "print the outcome as one JSON object (up_to_date, written, reasons, changes, duration in seconds)")
	c.Flags().StringArrayVar(&update, "update", nil, "re-resolve only the named input (repeatable; more names may follow as arguments)")
	c.RegisterFlagCompletionFunc("update", e.completeInputs)
	return c
}

func runLock(e *env, check, asJSON bool, update, pos []string) error {
	t0 := time.Now()
	if len(pos) > 0 {
		if len(update) == 0 {
			return usageError{fmt.Sprintf("unexpected arguments %q (did you mean --update %s?)", pos, pos[0])}
		}
		update = append(update, pos...)
	}
	if check && len(update) > 0 {
		return usageError{"--check and --update cannot be combined"}
	}
	if check {
		return runCheck(e, asJSON, t0)
	}
	// Read the lock while the manifest is parsed: on a lock of thousands
	// of inputs this is a good part of `lock --check`.
	type lockRead struct {
		data []byte
		l    *lock.Lock
		err  error
	}
	read := make(chan lockRead, 1)
	go func() {
		data, l, err := app.ReadLock(e.lockPath)
		read <- lockRead{data, l, err}
	}()
	m, err := manifest.Load(e.manifestPath)
	if err != nil {
		return err
	}
	r := <-read
	oldBytes, old, err := r.data, r.l, r.err
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, name := range update {
		if _, ok := old.Find(name); !ok && name != "toolchain" {
			return fmt.Errorf("--update %s: no input of that name in %s%s (names look like postgres/17, extension/NAME/VERSION, plugin/NAME, toolchain)", name, e.lockPath, didYouMean(suggestInputs(old, name)))
		}
	}
	res, err := lock.Resolve(e.ctx, m, old, lock.Options{
		Update:    update,
		Hash:      e.hashInput(m),
		Toolchain: e.resolveToolchain,
		// A change in how a layer's packages are derived is a stale lock.
		RootRequests: toolchains.ManifestSpec(m).Digests(),
	})
	if err != nil {
		return err
	}
	newBytes, err := lock.Encode(res.Lock)
	if err != nil {
		return err
	}
	upToDate := bytes.Equal(oldBytes, newBytes)
	if !upToDate {
		if err := writeFileAtomic(e.lockPath, newBytes); err != nil {
			return err
		}
	}
	if err := e.registerLock(); err != nil {
		return err
	}
	changes := lock.Diff(old, res.Lock)
	switch {
	case asJSON:
		writeJSONLine(e.stdout, lockJSON{Lock: e.lockPath, UpToDate: upToDate, Written: !upToDate, Inputs: len(res.Lock.Inputs),
			Changes: changesJSON(changes), Duration: since(t0)})
	case upToDate:
		fmt.Fprintf(e.stdout, "%s is up to date (%d inputs)\n", e.lockPath, len(res.Lock.Inputs))
	case old == nil:
		fmt.Fprintf(e.stdout, "wrote %s (%d inputs)\n", e.lockPath, len(res.Lock.Inputs))
		fmt.Fprint(e.stdout, summarize(changes))
	default:
		fmt.Fprintf(e.stdout, "updated %s:\n", e.lockPath)
		fmt.Fprint(e.stdout, summarize(changes))
	}
	return nil
}

// lockJSON is `lock --json` and `lock --check --json`.
type lockJSON struct {
	Lock     string       `json:"lock"`
	UpToDate bool         `json:"up_to_date"`
	Written  bool         `json:"written"`
	Inputs   int          `json:"inputs"`
	Reasons  []string     `json:"reasons,omitempty"` // why the lock is stale (--check)
	Changes  []changeJSON `json:"changes"`
	LockOnly []string     `json:"lock_only,omitempty"`
	Error    string       `json:"error,omitempty"`
	Duration float64      `json:"duration"` // seconds
}

type changeJSON struct {
	Kind string            `json:"kind"`
	Name string            `json:"name"`
	Old  *changedInputJSON `json:"old,omitempty"`
	New  *changedInputJSON `json:"new,omitempty"`
}

type changedInputJSON struct {
	Version string   `json:"version,omitempty"`
	SHA256  string   `json:"sha256"`
	URLs    []string `json:"urls,omitempty"`
}

func changesJSON(cs []lock.Change) []changeJSON {
	in := func(x *lock.Input) *changedInputJSON {
		if x == nil {
			return nil
		}
		return &changedInputJSON{x.Version, x.SHA256, x.URLs}
	}
	out := []changeJSON{}
	for _, c := range cs {
		out = append(out, changeJSON{Kind: string(c.Kind), Name: c.Name, Old: in(c.Old), New: in(c.New)})
	}
	return out
}

// since is the time since t0 in seconds, rounded to milliseconds.
func since(t0 time.Time) float64 { return time.Since(t0).Round(time.Millisecond).Seconds() }

// writeJSONLine writes v as one JSON line.
func writeJSONLine(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// summarize prints changes like Nix, folding Debian package changes into a
// count past a screenful so a toolchain bump stays readable.
func summarize(changes []lock.Change) string {
	const maxDebs = 20
	var b strings.Builder
	debs := 0
	for _, c := range changes {
		if strings.HasPrefix(c.Name, "deb/") {
			debs++
			if debs > maxDebs {
				continue
			}
		}
		b.WriteString(c.String() + "\n")
	}
	if debs > maxDebs {
		fmt.Fprintf(&b, "• … and %d more Debian package changes (git diff monogres.lock shows them all)\n", debs-maxDebs)
	}
	return b.String()
}

// runCheck is `lock --check`. A check that passed before with the same
// binary, manifest, lock and files the manifest points to is answered from
// its memo in the store (see checkMemo) without decoding either file.
func runCheck(e *env, asJSON bool, t0 time.Time) error {
	manifestData, err := os.ReadFile(e.manifestPath)
	if err != nil {
		return err
	}
	lockData, lockErr := os.ReadFile(e.lockPath)
	key := ""
	if lockErr == nil {
		key = checkMemoKey(e.manifestPath, e.lockPath, manifestData, lockData)
	}
	if memo, ok := loadCheckMemo(key); ok {
		checkMemoHits++
		return reportCheck(e, asJSON, t0, memo.Inputs, nil, memo.Summary, memo.LockOnly, memo.Changes)
	}
	// The catalog is read while the manifest is parsed: hash it first.
	catalogSum, err := fileSHA256(manifest.CatalogFilePath(e.manifestPath))
	if err != nil {
		key = ""
	}
	// Decode the lock while the manifest is parsed: on a lock of thousands
	// of inputs this is a good part of `lock --check`.
	type lockRead struct {
		l   *lock.Lock
		err error
	}
	read := make(chan lockRead, 1)
	go func() {
		if lockErr != nil {
			read <- lockRead{nil, lockErr}
			return
		}
		l, err := lock.Decode(e.lockPath, lockData)
		read <- lockRead{l, err}
	}()
	m, err := manifest.Parse(e.manifestPath, manifestData)
	if err != nil {
		return err
	}
	r := <-read
	if r.err != nil {
		if asJSON {
			writeJSONLine(e.stdout, lockJSON{Lock: e.lockPath, Error: r.err.Error(), Reasons: []string{r.err.Error()}, Duration: since(t0)})
			return exitError{code: exitFail}
		}
		return exitError{exitFail, fmt.Sprintf("monogres lock --check: %v", r.err)}
	}
	var before []memoDep
	if key != "" {
		if before, err = snapshotDeps(m, catalogSum); err != nil {
			key = ""
		}
	}
	return checkLock(e, m, r.l, asJSON, t0, key, before)
}

func checkLock(e *env, m *manifest.Manifest, old *lock.Lock, asJSON bool, t0 time.Time, memoKey string, memoDeps []memoDep) error {
	rep, err := lock.CheckReport(e.ctx, m, old)
	if err != nil {
		return err
	}
	reasons := rep.Reasons
	var summary string
	if old.Toolchain == "" || old.Toolchain == lock.ToolchainDigest(m) {
		// (A changed toolchain request is already a reason: the packages
		// must be resolved again, so there is nothing to verify.)
		var problems []string
		problems, summary, err = e.verifyToolchain(m, old)
		if err != nil {
			return err
		}
		reasons = append(reasons, problems...)
	}
	changes := changesJSON(rep.Changes)
	if len(reasons) == 0 {
		saveCheckMemo(memoKey, m, memoDeps, checkMemo{Inputs: len(old.Inputs), Summary: summary, LockOnly: rep.LockOnly, Changes: changes})
	}
	if asJSON || len(reasons) == 0 {
		return reportCheck(e, asJSON, t0, len(old.Inputs), reasons, summary, rep.LockOnly, changes)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s is out of date with %s:\n", e.lockPath, e.manifestPath)
	for _, r := range reasons {
		fmt.Fprintf(&b, "  - %s\n", r)
	}
	if len(rep.Changes) > 0 {
		b.WriteString("\n`monogres lock` would make these changes:\n")
		b.WriteString(summarize(rep.Changes))
	}
	if len(reasons) == 1 && strings.HasPrefix(reasons[0], missingIndex) {
		b.WriteString("\nRun `monogres fetch 'index/*'`, then `monogres lock --check` again.")
	} else {
		b.WriteString("\nRun `monogres lock` and commit monogres.lock.")
	}
	return exitError{exitFail, b.String()}
}

// reportCheck prints the answer of `lock --check`; with reasons only as
// JSON (the text form of a failure is checkLock's).
func reportCheck(e *env, asJSON bool, t0 time.Time, inputs int, reasons []string, summary string, lockOnly []string, changes []changeJSON) error {
	if asJSON {
		if changes == nil {
			changes = []changeJSON{}
		}
		writeJSONLine(e.stdout, lockJSON{Lock: e.lockPath, UpToDate: len(reasons) == 0, Inputs: inputs, Reasons: reasons,
			Changes: changes, LockOnly: lockOnly, Duration: since(t0)})
		if len(reasons) > 0 {
			return exitError{code: exitFail}
		}
		return nil
	}
	fmt.Fprintf(e.stdout, "%s is up to date (%d inputs)\n", e.lockPath, inputs)
	if summary != "" {
		fmt.Fprintln(e.stdout, summary)
	}
	if n := len(lockOnly); n > 0 {
		names := lockOnly
		if n > 5 {
			names = append(names[:5:5], fmt.Sprintf("and %d more", n-5))
		}
		fmt.Fprintf(e.stdout, "note: %d inputs rest on the lock alone (neither %s nor the release index pins their sha256; a change to it is for the lock's reviewer to catch): %s\n", n, e.manifestPath, strings.Join(names, ", "))
	}
	return nil
}

// registerLock makes the lock a GC root of the store (see store.Register).
func (e *env) registerLock() error {
	st, err := app.OpenStore()
	if err != nil {
		return err
	}
	return st.Register(e.lockPath, nil)
}

// writeFileAtomic writes data to path so that an interrupted run leaves
// either the old or the new file.
func writeFileAtomic(path string, data []byte) error {
	return store.WriteFileAtomic(path, data, 0o644)
}

// loadLocked loads the lock or explains that `monogres lock` must run first.
func (e *env) loadLocked() (*manifest.Manifest, *lock.Lock, error) {
	m, err := manifest.Load(e.manifestPath)
	if err != nil {
		return nil, nil, err
	}
	_, l, err := app.ReadLock(e.lockPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s does not exist: run `monogres lock` first", e.lockPath)
	}
	if err != nil {
		return nil, nil, err
	}
	return m, l, nil
}
