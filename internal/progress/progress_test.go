package progress

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/printer"
)

// TestLive: a fetch in progress and a build with a known previous
// duration show bytes, steps, elapsed time and the ETA; finished items
// leave the display and count as done; plain lines stay above it.
func TestLive(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)
	now := t0
	var screen, plain bytes.Buffer
	cell := "postgres~15.18~barebones~amd64"
	l := New(&screen, printer.Plain(&plain), func(c string) time.Duration {
		if c == cell {
			return 6 * time.Minute
		}
		return 0
	})
	l.Now = func() time.Time { return now }
	l.Emit(event.Event{Time: now, Kind: event.Queued, Phase: event.PhaseBuild, Item: cell})
	l.Emit(event.Event{Time: now, Kind: event.Started, Phase: event.PhaseFetch, Item: "postgres/15"})
	l.Emit(event.Event{Time: now, Kind: event.Progress, Phase: event.PhaseFetch, Item: "postgres/15", Unit: "bytes", Done: 12_000_000, Total: 24_000_000})
	now = now.Add(10 * time.Second)
	l.Emit(event.Event{Time: now, Kind: event.Finished, Phase: event.PhaseFetch, Item: "postgres/15", State: event.StateFetched})
	l.Emit(event.Event{Time: now, Kind: event.Started, Phase: event.PhaseBuild, Item: cell})
	now = now.Add(2 * time.Minute)
	l.Emit(event.Event{Time: now, Kind: event.Log, Phase: event.PhaseBuild, Item: cell, Line: "gcc -c foo.c"})
	got := l.Lines(now)
	want := []string{
		"1/2 done, 1 running, 2m10s elapsed",
		"  build " + cell + "  2m00s, ETA 4m00s (last build took 6m00s)  | gcc -c foo.c",
	}
	if !slices.Equal(got, want) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(plain.String(), "fetched postgres/15") || !strings.Contains(plain.String(), "building "+cell) {
		t.Errorf("plain lines: %q", plain.String())
	}
	if !strings.Contains(screen.String(), "\x1b[1A\x1b[2K") {
		t.Errorf("the display was never redrawn in place: %q", screen.String())
	}
	l.Close()
}
