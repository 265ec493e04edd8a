package build

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// RegressResult is the outcome of an extension's pg_regress suite, run by
// the smoke test against the server of the parent package.
type RegressResult struct {
	// Passed and Failed name the tests.
	Passed []string `json:"passed"`
	Failed []string `json:"failed,omitempty"`
	// Advisory is the manifest's reason when failures do not fail the
	// cell (regress = "advisory").
	Advisory string `json:"advisory,omitempty"`
	// Diffs is the start of regression.diffs when a test failed.
	Diffs string `json:"diffs,omitempty"`
	// Error says why the suite did not run to the end (make failed before
	// pg_regress reported any test).
	Error string `json:"error,omitempty"`
}

// pg_regress result lines: "ok 1  - name  12 ms" / "not ok 2 + name"
// (Postgres 16 and newer, TAP) and "test name ... ok" / "     name ...
// FAILED" (15 and older).
var (
	tapLine = regexp.MustCompile(`^(not )?ok\s+\d+\s+[-+]\s+(\S+)`)
	oldLine = regexp.MustCompile(`^(?:test\s+)?\s*(\S+)\s+\.\.\.\s+(ok|FAILED|failed \(ignored\))`)
)

// parseRegress reads pg_regress output: passed and failed tests, and the
// exit status the smoke script appended ("monogres-regress-exit N"); ran
// is false without that line.
func parseRegress(out string) (r RegressResult, rc string, ran bool) {
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "monogres-regress-exit "); ok {
			rc, ran = strings.TrimSpace(v), true
			continue
		}
		if m := tapLine.FindStringSubmatch(l); m != nil {
			if m[1] == "" {
				r.Passed = append(r.Passed, m[2])
			} else {
				r.Failed = append(r.Failed, m[2])
			}
			continue
		}
		if m := oldLine.FindStringSubmatch(strings.TrimSpace(l)); m != nil {
			if m[2] == "FAILED" {
				r.Failed = append(r.Failed, m[1])
			} else {
				r.Passed = append(r.Passed, m[1])
			}
		}
	}
	return r, rc, ran
}

// regressResult reads what the smoke test's regression run left in the
// built source tree src (nil: the source has no suite, or regress =
// "skip"), logs it, and fails unless it passed or the settings make it
// advisory.
func regressResult(src string, st Settings, out io.Writer) (*RegressResult, error) {
	b, err := os.ReadFile(filepath.Join(src, strings.TrimPrefix(RegressOut, SrcDir+"/")))
	if os.IsNotExist(err) {
		if st.Regress == "skip" {
			fmt.Fprintf(out, "monogres: regression suite skipped: %s\n", st.RegressReason)
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r, rc, ran := parseRegress(string(b))
	if !ran {
		return nil, fmt.Errorf("the regression run did not finish (no exit status in %s)", RegressOut)
	}
	if rc != "0" && len(r.Failed) == 0 {
		r.Error = fmt.Sprintf("make installcheck exited with status %s", rc)
		if len(r.Passed) == 0 {
			r.Error += " before pg_regress reported a test"
		}
	}
	if rc != "0" || len(r.Failed) > 0 {
		if d, err := os.ReadFile(filepath.Join(src, "regression.diffs")); err == nil {
			if len(d) > 64<<10 {
				d = append(d[:64<<10], "\n... (truncated)\n"...)
			}
			r.Diffs = string(d)
		}
	}
	fmt.Fprintf(out, "monogres: regression suite: %d passed, %d failed %v\n", len(r.Passed), len(r.Failed), r.Failed)
	if r.Error == "" && len(r.Failed) == 0 {
		return &r, nil
	}
	if st.Regress == "advisory" {
		r.Advisory = st.RegressReason
		fmt.Fprintf(out, "monogres: regression failures are advisory: %s\n", st.RegressReason)
		return &r, nil
	}
	why := r.Error
	if len(r.Failed) > 0 {
		why = fmt.Sprintf("%d of %d tests failed: %s", len(r.Failed), len(r.Failed)+len(r.Passed), strings.Join(r.Failed, ", "))
	}
	return nil, fmt.Errorf("the extension's regression suite failed: %s (regression.diffs is in the log; mark it regress = \"advisory\" with regress_reason if that is expected)", why)
}
