package printer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/progress"
)

var update = flag.Bool("update", false, "rewrite testdata/run.plain.txt")

// recorded reads testdata/run.jsonl: a fetch, a failed fetch, a toolchain,
// three builds (built, cached, failed with a log) and a verify.
func recorded(t *testing.T) ([]event.Event, []byte) {
	t.Helper()
	raw, err := os.ReadFile("testdata/run.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var evs []event.Event
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for n := 1; sc.Scan(); n++ {
		var e event.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("testdata/run.jsonl:%d: %v", n, err)
		}
		evs = append(evs, e)
	}
	return evs, raw
}

// TestJSONIsTheEventStream: each --json line is the event it reports (its
// own encoding, with the run's progress fields added beside it).
func TestJSONIsTheEventStream(t *testing.T) {
	evs, _ := recorded(t)
	var out bytes.Buffer
	s := progress.JSON(&out, nil)
	for _, e := range evs {
		s.Emit(e)
	}
	var got []event.Event
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		var e event.Event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		got = append(got, e)
	}
	if diff := cmp.Diff(evs, got); diff != "" {
		t.Errorf("JSON output is not the recorded events (-want +got):\n%s", diff)
	}
}

func TestPlainGolden(t *testing.T) {
	evs, _ := recorded(t)
	var out bytes.Buffer
	s := Plain(&out)
	for _, e := range evs {
		s.Emit(e)
	}
	const path = "testdata/run.plain.txt"
	if *update {
		if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), out.String()); diff != "" {
		t.Errorf("plain output (-want +got):\n%s", diff)
	}
}

// TestSameInformation checks that every item, state and error in the JSON
// stream is in the plain output, on one line together, and that failed
// items carry their log lines.
func TestSameInformation(t *testing.T) {
	evs, _ := recorded(t)
	var js, pl bytes.Buffer
	j, p := progress.JSON(&js, nil), Plain(&pl)
	for _, e := range evs {
		j.Emit(e)
		p.Emit(e)
	}
	lines := strings.Split(pl.String(), "\n")
	hasLine := func(parts ...string) bool {
		for _, l := range lines {
			ok := true
			for _, p := range parts {
				if !strings.Contains(l, p) {
					ok = false
					break
				}
			}
			if ok {
				return true
			}
		}
		return false
	}
	failed := map[string]bool{}
	sc := bufio.NewScanner(&js)
	checked := 0
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		item, _ := e["item"].(string)
		state, _ := e["state"].(string)
		errText, _ := e["error"].(string)
		line, _ := e["line"].(string)
		switch e["kind"] {
		case "started":
			if !hasLine(item) {
				t.Errorf("started %q not in plain output", item)
			}
		case "finished":
			want := []string{item}
			if state != "" {
				want = append(want, state)
			}
			if errText != "" {
				want = append(want, errText)
				failed[item] = true
			}
			if !hasLine(want...) {
				t.Errorf("no plain line has all of %q", want)
			}
			checked++
		case "message":
			if !hasLine(line) {
				t.Errorf("message %q not in plain output", line)
			}
		}
	}
	if checked < 8 {
		t.Fatalf("only %d finished events in the recording", checked)
	}
	for _, e := range evs {
		if e.Kind == event.Log && failed[e.Item] && !hasLine("| "+e.Line) {
			t.Errorf("log line %q of failed %s not in plain output", e.Line, e.Item)
		}
	}
	// The fetched size comes from the last progress event.
	if !hasLine("fetched postgres/15.18 (23.4 MB)") {
		t.Errorf("fetch line without size:\n%s", pl.String())
	}
	if !hasLine("built postgres~15.18~barebones~amd64 in 1m52s") {
		t.Errorf("build line without duration:\n%s", pl.String())
	}
}

func TestPlainThrottlesProgress(t *testing.T) {
	var out bytes.Buffer
	p := Plain(&out)
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	p.Emit(event.Event{Time: t0, Kind: event.Started, Phase: event.PhaseFetch, Item: "x"})
	for i := range 6000 { // one per 10ms for 60s
		p.Emit(event.Event{Time: t0.Add(time.Duration(i) * 10 * time.Millisecond), Kind: event.Progress, Phase: event.PhaseFetch, Item: "x", Unit: "bytes", Done: int64(i), Total: 6000})
	}
	n := strings.Count(out.String(), "fetching x: ")
	if n < 4 || n > 6 {
		t.Errorf("%d progress lines for 60s at %s intervals, want 5:\n%s", n, ProgressEvery, out.String())
	}
}

func TestConcurrentEmit(t *testing.T) {
	var pl, js bytes.Buffer
	sinks := []event.Sink{Plain(&pl), progress.JSON(&js, nil)}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				for _, s := range sinks {
					s.Emit(event.Event{Kind: event.Message, Line: strings.Repeat("x", g+i)})
				}
			}
		}()
	}
	wg.Wait()
	if n := strings.Count(js.String(), "\n"); n != 800 {
		t.Errorf("%d JSON lines, want 800", n)
	}
	for _, l := range strings.Split(strings.TrimSuffix(js.String(), "\n"), "\n") {
		if !json.Valid([]byte(l)) {
			t.Fatalf("interleaved JSON line %q", l)
		}
	}
}

// TestPlainFailureTailOnce: a failed build whose error carries the log's
// tail (as the engine's does) and whose log lines streamed prints the tail
// once, under the failure's first line.
func TestPlainFailureTailOnce(t *testing.T) {
	var b bytes.Buffer
	p := Plain(&b)
	t0 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	cell := "postgres~15.18~barebones~amd64"
	p.Emit(event.Event{Time: t0, Kind: event.Started, Phase: event.PhaseBuild, Item: cell})
	p.Emit(event.Event{Time: t0, Kind: event.Log, Phase: event.PhaseBuild, Item: cell, Line: "make: *** [all] Error 2"})
	p.Emit(event.Event{Time: t0.Add(12 * time.Second), Kind: event.Finished, Phase: event.PhaseBuild, Item: cell, State: event.StateFailed,
		Err: "build: cell " + cell + ": make: exit status 2\nlog /s/x.log ends with:\nmake: *** [all] Error 2"})
	want := "building " + cell + "\nfailed " + cell + " after 12s: build: cell " + cell + ": make: exit status 2\n    | make: *** [all] Error 2\n"
	if got := b.String(); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	// Without streamed lines, the error's own tail is the tail.
	b.Reset()
	p.Emit(event.Event{Time: t0, Kind: event.Finished, Phase: event.PhaseBuild, Item: "c", State: event.StateFailed, Err: "boom\nline 1\nline 2"})
	if got, want := b.String(), "failed c: boom\n    | line 1\n    | line 2\n"; got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}
