package progress

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/event"
)

// TestJSON: --json lines carry the live display's fields: overall done and
// total, elapsed seconds, and a running build's elapsed time and ETA from
// its previous duration; a finished item has neither.
func TestJSON(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	cell := "postgres~15.18~barebones~amd64"
	var out bytes.Buffer
	s := JSON(&out, func(c string) time.Duration {
		if c == cell {
			return 6 * time.Minute
		}
		return 0
	})
	s.Emit(event.Event{Time: t0, Kind: event.Queued, Phase: event.PhaseBuild, Item: cell})
	s.Emit(event.Event{Time: t0, Kind: event.Started, Phase: event.PhaseFetch, Item: "postgres/15"})
	s.Emit(event.Event{Time: t0.Add(10 * time.Second), Kind: event.Finished, Phase: event.PhaseFetch, Item: "postgres/15", State: event.StateFetched})
	s.Emit(event.Event{Time: t0.Add(10 * time.Second), Kind: event.Started, Phase: event.PhaseBuild, Item: cell})
	s.Emit(event.Event{Time: t0.Add(130 * time.Second), Kind: event.Progress, Phase: event.PhaseBuild, Item: cell, Unit: "steps", Done: 2, Total: 5, Line: "building"})
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%v: %s", err, l)
		}
		lines = append(lines, m)
	}
	if len(lines) != 5 {
		t.Fatalf("%d lines, want 5:\n%s", len(lines), out.String())
	}
	fetched, building := lines[2], lines[4]
	if fetched["run_done"] != 1.0 || fetched["run_total"] != 2.0 || fetched["elapsed_seconds"] != nil || fetched["state"] != "fetched" {
		t.Errorf("finished fetch line: %v", fetched)
	}
	want := map[string]any{"item": cell, "kind": "progress", "unit": "steps", "done": 2.0, "total": 5.0, "line": "building",
		"run_done": 1.0, "run_total": 2.0, "run_elapsed_seconds": 130.0, "elapsed_seconds": 120.0, "eta_seconds": 240.0}
	for k, v := range want {
		if building[k] != v {
			t.Errorf("build progress line: %s = %v, want %v (line %v)", k, building[k], v, building)
		}
	}
}
