// Package printer turns monogres events into output for something that is
// not a terminal UI: Plain writes human lines for CI logs and pipes, JSON
// writes each Event as one JSON object per line (`--json`). Both read the
// same events the TUI reads, and both are safe for concurrent use.
package printer

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/monogres/monogres/internal/event"
)

// ProgressEvery is the shortest interval, in event time, between two
// progress lines for one item in Plain output, so CI logs stay short.
const ProgressEvery = 10 * time.Second

// LogTail is how many log lines of an item Plain keeps; they are printed
// under the item's failure and dropped when it succeeds.
const LogTail = 30

// Plain returns a sink that writes one human line per start, finish and
// message, throttled progress lines, and the log tail of failed items:
//
//	fetching postgres/15.18
//	fetching postgres/15.18: 12.0 MB of 23.4 MB (51%)
//	fetched postgres/15.18 (23.4 MB)
//	building postgres~15.18~barebones~amd64
//	built postgres~15.18~barebones~amd64 in 1m52s
//	failed pg_similarity~1.0~postgres~15.18~regular~amd64 after 12s: make: exit status 2
//	    | make: *** [GNUmakefile:11: all] Error 2
func Plain(w io.Writer) event.Sink {
	return &plain{w: w, items: map[string]*plainItem{}}
}

type plainItem struct {
	start       time.Time
	unit        string
	done, total int64
	lastPrint   time.Time
	log         []string
}

type plain struct {
	mu    sync.Mutex
	w     io.Writer
	items map[string]*plainItem
}

var verbs = map[event.Phase]string{
	event.PhaseLock:      "locking",
	event.PhaseFetch:     "fetching",
	event.PhaseToolchain: "composing toolchain",
	event.PhaseBuild:     "building",
	event.PhaseVerify:    "verifying",
	event.PhasePlugin:    "running plugin",
}

func verb(p event.Phase) string {
	if v, ok := verbs[p]; ok {
		return v
	}
	if p == "" {
		return "starting"
	}
	return string(p)
}

func (p *plain) item(name string) *plainItem {
	it := p.items[name]
	if it == nil {
		it = &plainItem{}
		p.items[name] = it
	}
	return it
}

// Emit prints e.
func (p *plain) Emit(e event.Event) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Kind {
	case event.Queued: // the Started or Finished line follows
	case event.Started:
		if e.Item == "" {
			p.printf("%s started", phaseName(e.Phase))
			return
		}
		it := p.item(e.Item)
		*it = plainItem{start: e.Time, lastPrint: e.Time}
		p.printf("%s %s", verb(e.Phase), e.Item)
	case event.Progress:
		it := p.item(e.Item)
		if it.start.IsZero() {
			it.start, it.lastPrint = e.Time, e.Time
		}
		it.unit, it.done, it.total = e.Unit, e.Done, e.Total
		if e.Time.Sub(it.lastPrint) < ProgressEvery || (e.Total > 0 && e.Done >= e.Total) {
			return
		}
		it.lastPrint = e.Time
		name := e.Item
		if name == "" {
			name = phaseName(e.Phase)
		}
		p.printf("%s %s: %s", verb(e.Phase), name, amount(e.Unit, e.Done, e.Total))
	case event.Log:
		it := p.item(e.Item)
		it.log = append(it.log, e.Line)
		if len(it.log) > LogTail {
			it.log = append(it.log[:0:0], it.log[len(it.log)-LogTail:]...)
		}
	case event.Finished:
		p.finished(e)
	case event.Message:
		if e.Item != "" {
			p.printf("%s: %s", e.Item, e.Line)
		} else {
			p.printf("%s", e.Line)
		}
	default:
		p.printf("%s %s %s", e.Kind, e.Phase, e.Item)
	}
}

func (p *plain) finished(e event.Event) {
	it := p.items[e.Item]
	delete(p.items, e.Item)
	if it == nil {
		it = &plainItem{}
	}
	state := string(e.State)
	if state == "" {
		state = "done"
		if e.Err != "" {
			state = string(event.StateFailed)
		}
	}
	name := e.Item
	if name == "" {
		name = phaseName(e.Phase)
	}
	var b strings.Builder
	b.WriteString(state + " " + name)
	if it.unit == "bytes" && (it.total > 0 || it.done > 0) {
		fmt.Fprintf(&b, " (%s)", event.FormatBytes(max(it.total, it.done)))
	}
	if !it.start.IsZero() && e.Phase != event.PhaseFetch {
		if e.Err != "" {
			b.WriteString(" after ")
		} else {
			b.WriteString(" in ")
		}
		b.WriteString(event.FormatDuration(e.Time.Sub(it.start)))
	}
	// An error's first line goes on the item's line; the log tail comes
	// once: the lines the item logged, else the rest of the error (an
	// engine error may carry the log's tail itself).
	reason, rest, _ := strings.Cut(e.Err, "\n")
	if e.Err != "" {
		b.WriteString(": " + reason)
	}
	p.printf("%s", b.String())
	if e.Err != "" || e.State == event.StateFailed {
		tail := it.log
		if len(tail) == 0 && rest != "" {
			tail = strings.Split(strings.TrimRight(rest, "\n"), "\n")
		}
		for _, l := range tail {
			p.printf("    | %s", l)
		}
	}
}

func phaseName(p event.Phase) string {
	if p == "" {
		return "run"
	}
	return string(p)
}

func (p *plain) printf(format string, args ...any) {
	fmt.Fprintf(p.w, format+"\n", args...)
}

func amount(unit string, done, total int64) string {
	switch {
	case unit == "bytes" && total > 0:
		return fmt.Sprintf("%s of %s (%d%%)", event.FormatBytes(done), event.FormatBytes(total), done*100/total)
	case unit == "bytes":
		return event.FormatBytes(done)
	case total > 0:
		return fmt.Sprintf("step %d of %d", done, total)
	}
	return fmt.Sprintf("%d %s", done, unit)
}
