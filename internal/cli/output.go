package cli

import (
	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/printer"
)

type eventSink = event.Sink

// sink returns the printer for engine events off a terminal: JSON lines on
// stdout, or plain lines on stderr without one line per input the store
// already had.
func (e *env) sink(asJSON bool) event.Sink {
	if asJSON {
		return printer.JSON(e.stdout)
	}
	p := printer.Plain(e.stderr)
	return event.Func(func(ev event.Event) {
		if ev.Phase == event.PhaseFetch && ev.Kind == event.Finished && ev.State == event.StateCached {
			return
		}
		p.Emit(ev)
	})
}
