package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/monogres/monogres/internal/event"
)

type eventSink = event.Sink

// sink returns the printer for engine events off a terminal: JSON lines or
// plain lines on stderr.
func (e *env) sink(asJSON bool) event.Sink {
	if asJSON {
		return jsonSink(e.stdout)
	}
	return plainSink(e.stderr)
}

func jsonSink(w io.Writer) event.Sink {
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	return event.Func(func(ev event.Event) {
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(ev)
	})
}

func plainSink(w io.Writer) event.Sink {
	var mu sync.Mutex
	return event.Func(func(ev event.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Kind {
		case event.Finished:
			if ev.Err != "" {
				fmt.Fprintf(w, "%s %s: %s\n%s\n", ev.State, ev.Item, "failed", ev.Err)
			} else {
				fmt.Fprintf(w, "%s %s\n", ev.State, ev.Item)
			}
		case event.Message:
			fmt.Fprintln(w, ev.Line)
		}
	})
}
