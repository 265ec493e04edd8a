package tui

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/monogres/monogres/internal/event"
)

// TestRunCancelledContext runs the real program loop on pipes: "b" starts a
// build, then the caller's context is cancelled (as SIGINT does through
// signal.NotifyContext). Run must return ErrInterrupted only after the
// Driver's Build has seen the cancellation and returned.
func TestRunCancelledContext(t *testing.T) {
	ready := make(chan struct{})
	d := &fakeDriver{cells: sampleCells(), returned: make(chan struct{}), script: func(ctx context.Context, kind string, cells []string, sink event.Sink) error {
		sink.Emit(event.Event{Kind: event.Started, Phase: event.PhaseBuild, Item: cells[0]})
		close(ready)
		<-ctx.Done()
		return ctx.Err()
	}}
	in, keys := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	var out bytes.Buffer
	go func() { errc <- Run(ctx, d, Options{Input: in, Output: &out, NoColor: true}) }()

	// Keys are read once the matrix is shown; retry until the build starts.
	deadline := time.After(10 * time.Second)
	for started := false; !started; {
		go keys.Write([]byte("b"))
		select {
		case <-ready:
			started = true
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			t.Fatalf("the build never started; screen:\n%s", out.String())
		}
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrInterrupted) || !errors.Is(err, context.Canceled) {
			t.Errorf("Run returned %v, want ErrInterrupted wrapping context.Canceled", err)
		}
		select {
		case <-d.returned:
		default:
			t.Error("Run returned before Driver.Build did")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the context was cancelled")
	}
	keys.Close()
	if len(d.builds) != 1 {
		t.Errorf("%d builds, want 1", len(d.builds))
	}
}

// TestRunQuit: q ends Run with no error and nothing running.
func TestRunQuit(t *testing.T) {
	d := &fakeDriver{cells: sampleCells(), script: func(ctx context.Context, kind string, cells []string, sink event.Sink) error { return nil }}
	in, keys := io.Pipe()
	errc := make(chan error, 1)
	go func() { errc <- Run(context.Background(), d, Options{Input: in, Output: io.Discard}) }()
	for {
		go keys.Write([]byte("q"))
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run after q: %v", err)
			}
			keys.Close()
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}
