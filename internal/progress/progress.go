// Package progress is the live multi-line display of a run on a terminal:
// one line per running item (bytes of a download, the step of a build,
// elapsed time and an ETA from the previous duration of the same cell when
// one is known) under a line with the overall done/total and elapsed time.
// It is fed by the engines' event stream (internal/event); engines never
// import it. Off a terminal, the CLI uses internal/printer instead.
package progress

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/monogres/monogres/internal/event"
)

// Live is an event.Sink that redraws the display on w at most every
// Interval; Start/Finished/Message lines of the plain printer below it
// scroll above the display.
type Live struct {
	// Below receives every event first (the plain lines that stay).
	Below event.Sink
	// Previous returns how long the last build of a cell took (0: unknown).
	Previous func(cell string) time.Duration
	// Now is the clock (time.Now by default).
	Now func() time.Time

	mu     sync.Mutex
	w      io.Writer
	run    run
	drawn  int // lines of the display on screen
	last   time.Time
	closed bool
}

// run follows a run's items from its events: which were seen, which are
// running (and how far), how many finished.
type run struct {
	start time.Time
	items map[string]*item
	seen  map[string]bool
	done  int
}

func newRun() run { return run{items: map[string]*item{}, seen: map[string]bool{}} }

// update applies e, seen at now.
func (r *run) update(e event.Event, now time.Time) {
	if r.start.IsZero() {
		r.start = now
	}
	if e.Item == "" {
		return
	}
	switch e.Kind {
	case event.Queued, event.Started:
		r.seen[e.Item] = true
		if e.Kind == event.Started {
			r.items[e.Item] = &item{phase: e.Phase, start: now}
		}
	case event.Progress:
		it := r.items[e.Item]
		if it == nil {
			it = &item{phase: e.Phase, start: now}
			r.items[e.Item] = it
			r.seen[e.Item] = true
		}
		it.unit, it.done, it.total = e.Unit, e.Done, e.Total
	case event.Log:
		if it := r.items[e.Item]; it != nil {
			it.line = e.Line
		}
	case event.Finished:
		if _, ok := r.items[e.Item]; ok || r.seen[e.Item] {
			r.done++
		}
		delete(r.items, e.Item)
		r.seen[e.Item] = true
	}
}

// eta is how long a running build or verify of name should still take,
// from the previous duration of the same cell: ok is false when none is
// known; a negative left means it is over that duration.
func (r *run) eta(name string, it *item, now time.Time, previous func(string) time.Duration) (left, prev time.Duration, ok bool) {
	if previous == nil || (it.phase != event.PhaseBuild && it.phase != event.PhaseVerify) {
		return 0, 0, false
	}
	if prev = previous(name); prev <= 0 {
		return 0, 0, false
	}
	return prev - now.Sub(it.start), prev, true
}

type item struct {
	phase       event.Phase
	start       time.Time
	unit        string
	done, total int64
	line        string
}

// Interval is the shortest time between two redraws.
const Interval = 200 * time.Millisecond

// New returns a live display on w over below.
func New(w io.Writer, below event.Sink, previous func(string) time.Duration) *Live {
	return &Live{w: w, Below: below, Previous: previous, run: newRun()}
}

func (l *Live) now() time.Time {
	if l.Now != nil {
		return l.Now()
	}
	return time.Now()
}

// Emit updates the display with e.
func (l *Live) Emit(e event.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return
	}
	now := l.now()
	// Plain lines go above the display: erase it, print, redraw.
	plain := e.Kind == event.Started || e.Kind == event.Finished || e.Kind == event.Message
	if plain && l.Below != nil {
		l.erase()
		l.Below.Emit(e)
	}
	l.run.update(e, now)
	if plain || now.Sub(l.last) >= Interval {
		l.draw(now)
	}
}

// Close erases the display; later events are dropped.
func (l *Live) Close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.erase()
	l.closed = true
}

func (l *Live) erase() {
	for ; l.drawn > 0; l.drawn-- {
		fmt.Fprint(l.w, "\x1b[1A\x1b[2K")
	}
}

func (l *Live) draw(now time.Time) {
	l.erase()
	lines := l.Lines(now)
	for _, s := range lines {
		fmt.Fprintln(l.w, s)
	}
	l.drawn, l.last = len(lines), now
}

// Lines renders the display at now: the overall line, then one line per
// running item in name order (at most 8, then "… and N more").
func (l *Live) Lines(now time.Time) []string {
	r := &l.run
	if len(r.items) == 0 {
		return nil
	}
	out := []string{fmt.Sprintf("%d/%d done, %d running, %s elapsed", r.done, len(r.seen), len(r.items), event.FormatDuration(now.Sub(r.start)))}
	names := make([]string, 0, len(r.items))
	for n := range r.items {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		if i == 8 {
			out = append(out, fmt.Sprintf("  … and %d more", len(names)-8))
			break
		}
		out = append(out, "  "+l.itemLine(n, r.items[n], now))
	}
	return out
}

func (l *Live) itemLine(name string, it *item, now time.Time) string {
	el := now.Sub(it.start)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", it.phase, name)
	switch {
	case it.unit == "bytes" && it.total > 0:
		fmt.Fprintf(&b, "  %s of %s (%d%%)", event.FormatBytes(it.done), event.FormatBytes(it.total), it.done*100/it.total)
	case it.unit == "bytes":
		fmt.Fprintf(&b, "  %s", event.FormatBytes(it.done))
	case it.total > 0:
		fmt.Fprintf(&b, "  step %d of %d", it.done, it.total)
	}
	fmt.Fprintf(&b, "  %s", event.FormatDuration(el))
	if left, prev, ok := l.run.eta(name, it, now, l.Previous); ok {
		if left > 0 {
			fmt.Fprintf(&b, ", ETA %s (last build took %s)", event.FormatDuration(left), event.FormatDuration(prev))
		} else {
			fmt.Fprintf(&b, ", over the last build's %s", event.FormatDuration(prev))
		}
	}
	if it.line != "" {
		line := it.line
		if len(line) > 60 {
			line = line[:57] + "..."
		}
		fmt.Fprintf(&b, "  | %s", line)
	}
	return b.String()
}
