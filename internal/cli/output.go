package cli

import (
	"time"

	"github.com/monogres/monogres/internal/app"
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/printer"
	"github.com/monogres/monogres/internal/progress"
)

type eventSink = event.Sink

// sink returns the printer for engine events outside the TUI: JSON lines on
// stdout (each event with the run's done/total, elapsed seconds and a
// running build's ETA); or plain lines on stderr without one line per input the store
// already had, under a live progress display when stderr is a terminal
// (off one, the plain printer's periodic progress lines).
func (e *env) sink(asJSON bool) event.Sink {
	var prev func(string) time.Duration
	if st, err := app.OpenStore(); err == nil {
		prev = func(cell string) time.Duration { return app.PreviousDuration(st, cell) }
	}
	if asJSON {
		return progress.JSON(e.stdout, prev)
	}
	p := printer.Plain(e.stderr)
	var out event.Sink = event.Func(func(ev event.Event) {
		if ev.Phase == event.PhaseFetch && ev.Kind == event.Finished && ev.State == event.StateCached {
			return
		}
		p.Emit(ev)
	})
	if isTTY(e.stderr) {
		out = progress.New(e.stderr, out, prev)
	}
	return out
}
