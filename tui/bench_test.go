package tui

import (
	"fmt"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/event"
)

// BenchmarkView draws one frame of a 10,000-cell matrix with the cursor in
// the middle, a selection, a filter off, and a build running.
func BenchmarkView(b *testing.B) {
	for _, sz := range sizes() {
		for _, color := range []bool{false, true} {
			b.Run(fmt.Sprintf("%dx%d/color=%v", sz.w, sz.h, color), func(b *testing.B) {
				h := newHarness(b, &fakeDriver{cells: bigCells()}, sz.w, sz.h)
				if len(h.m.g.cells) != 10000 {
					b.Fatalf("%d cells", len(h.m.g.cells))
				}
				h.m.st = newStyles(!color)
				h.press("pgdown", "pgdown", "pgdown", "pgdown", "pgdown", "l", "l", "l", "space", "j", "space")
				h.m.apply(event.Event{Time: base, Kind: event.Started, Phase: event.PhaseBuild, Item: h.m.curName()})
				h.m.apply(event.Event{Time: base.Add(time.Minute), Kind: event.Progress, Phase: event.PhaseBuild, Item: h.m.curName(), Unit: "steps", Done: 3, Total: 9})
				b.ReportAllocs()
				b.ResetTimer()
				start := time.Now()
				for b.Loop() {
					_ = h.m.View()
				}
				b.ReportMetric(float64(time.Since(start).Microseconds())/1000/float64(b.N), "ms/frame")
			})
		}
	}
}

// BenchmarkEvents folds a batch of 512 progress events into a 10,000-cell
// model, as one eventsMsg does.
func BenchmarkEvents(b *testing.B) {
	h := newHarness(b, &fakeDriver{cells: bigCells()}, 160, 48)
	batch := make([]event.Event, 512)
	for i := range batch {
		batch[i] = event.Event{Time: base, Kind: event.Progress, Phase: event.PhaseBuild, Item: h.m.g.cells[i*19].Name, Unit: "steps", Done: int64(i), Total: 1000}
	}
	b.ReportAllocs()
	for b.Loop() {
		h.m.Update(eventsMsg{events: batch})
	}
}
