// Package event is the only vocabulary shared by the monogres engine and its
// front ends. Engine packages (lock, fetch, toolchains, build, plugins) report
// what they do as Events to a Sink; the TUI, the plain printer and the JSON
// printer turn the same Events into pixels or lines. Events are plain data:
// no engine types, no bubbletea types.
package event

import "time"

// Kind says what happened.
type Kind string

const (
	Queued   Kind = "queued"   // a cell entered a run and waits for its dependencies or a free job
	Started  Kind = "started"  // an item began (a download, an action, a plugin call)
	Progress Kind = "progress" // Done/Total moved
	Log      Kind = "log"      // one line of output for Item
	Finished Kind = "finished" // the item ended; State says how, Err why it failed
	Message  Kind = "message"  // a human-readable note not tied to progress (e.g. lock summary lines)
)

// Phase names the stage of the pipeline an event belongs to.
type Phase string

const (
	PhaseLock      Phase = "lock"
	PhaseFetch     Phase = "fetch"
	PhaseToolchain Phase = "toolchain"
	PhaseBuild     Phase = "build"
	PhaseVerify    Phase = "verify"
	PhasePlugin    Phase = "plugin"
)

// State is the state of an item (an input or a cell) as the UI shows it.
type State string

const (
	StateLocked   State = "locked"
	StateFetched  State = "fetched"
	StateQueued   State = "queued"
	StateRunning  State = "building"
	StateBuilt    State = "built"
	StateCached   State = "cached"
	StateVerified State = "verified"
	StateFailed   State = "failed"
)

// Event is one thing that happened. Zero fields are omitted in JSON.
type Event struct {
	Time  time.Time `json:"time"`
	Kind  Kind      `json:"kind"`
	Phase Phase     `json:"phase"`
	// Item is an input name ("postgres/15.18", "deb/amd64/gcc-12") or a cell
	// name ("postgres~15.18~regular~amd64"); empty for whole-run events.
	Item string `json:"item,omitempty"`
	// Unit of Done/Total: "bytes" or "steps".
	Unit  string `json:"unit,omitempty"`
	Done  int64  `json:"done,omitempty"`
	Total int64  `json:"total,omitempty"`
	Line  string `json:"line,omitempty"`
	State State  `json:"state,omitempty"`
	Err   string `json:"error,omitempty"`
}

// Sink receives events. Implementations must be safe for concurrent use:
// engine packages emit from many goroutines.
type Sink interface {
	Emit(Event)
}

// Func adapts a function to a Sink. The function must be safe for concurrent use.
type Func func(Event)

// Emit calls f(e).
func (f Func) Emit(e Event) { f(e) }

// Discard drops every event.
var Discard Sink = Func(func(Event) {})

// Emitter stamps events with a phase and the current time before sending them,
// so engine code can write e.Started("postgres/15.18") and nothing more.
type Emitter struct {
	Sink  Sink
	Phase Phase
	Now   func() time.Time // nil means time.Now
}

func (em Emitter) emit(e Event) {
	if em.Sink == nil {
		return
	}
	e.Phase = em.Phase
	if em.Now != nil {
		e.Time = em.Now()
	} else {
		e.Time = time.Now()
	}
	em.Sink.Emit(e)
}

// Queued reports that item waits to run.
func (em Emitter) Queued(item string) { em.emit(Event{Kind: Queued, Item: item, State: StateQueued}) }

// Started reports that item began.
func (em Emitter) Started(item string) { em.emit(Event{Kind: Started, Item: item}) }

// Progress reports done of total units for item.
func (em Emitter) Progress(item, unit string, done, total int64) {
	em.emit(Event{Kind: Progress, Item: item, Unit: unit, Done: done, Total: total})
}

// Step reports that item began step k of total, named step ("building").
func (em Emitter) Step(item, step string, k, total int) {
	em.emit(Event{Kind: Progress, Item: item, Unit: "steps", Done: int64(k), Total: int64(total), Line: step})
}

// Log reports one line of output for item.
func (em Emitter) Log(item, line string) { em.emit(Event{Kind: Log, Item: item, Line: line}) }

// Message reports a human-readable line.
func (em Emitter) Message(line string) { em.emit(Event{Kind: Message, Line: line}) }

// Finished reports the end of item with its state; err is nil on success.
func (em Emitter) Finished(item string, state State, err error) {
	e := Event{Kind: Finished, Item: item, State: state}
	if err != nil {
		e.Err = err.Error()
		if state == "" {
			e.State = StateFailed
		}
	}
	em.emit(e)
}
