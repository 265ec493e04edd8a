package progress

import (
	"encoding/json"
	"io"
	"sync"
	"time"

	"github.com/monogres/monogres/internal/event"
)

// Line is one JSON line of a --json run: the event, the run's overall
// done/total and elapsed time, and for the event's item while it runs its
// elapsed time and, for a build or verify whose cell has a previous
// duration, the seconds left (negative: over that duration).
type Line struct {
	event.Event
	RunDone    int      `json:"run_done"`
	RunTotal   int      `json:"run_total"`
	RunElapsed float64  `json:"run_elapsed_seconds"`
	Elapsed    *float64 `json:"elapsed_seconds,omitempty"`
	ETA        *float64 `json:"eta_seconds,omitempty"`
}

// JSON is an event.Sink writing one Line per event to w; previous (may be
// nil) gives a cell's last build duration, as for the live display.
func JSON(w io.Writer, previous func(string) time.Duration) event.Sink {
	return &jsonSink{enc: json.NewEncoder(w), previous: previous, run: newRun()}
}

type jsonSink struct {
	mu       sync.Mutex
	enc      *json.Encoder
	previous func(string) time.Duration
	run      run
}

// Emit writes e with the run's progress. A write error is dropped: the
// stream is output, not state; the exit status reports the run.
func (j *jsonSink) Emit(e event.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	now := e.Time
	if now.IsZero() {
		now = time.Now()
	}
	j.run.update(e, now)
	l := Line{Event: e, RunDone: j.run.done, RunTotal: len(j.run.seen), RunElapsed: seconds(now.Sub(j.run.start))}
	if it := j.run.items[e.Item]; it != nil {
		el := seconds(now.Sub(it.start))
		l.Elapsed = &el
		if left, _, ok := j.run.eta(e.Item, it, now, j.previous); ok {
			s := seconds(left)
			l.ETA = &s
		}
	}
	_ = j.enc.Encode(l)
}

func seconds(d time.Duration) float64 { return d.Round(time.Millisecond).Seconds() }
