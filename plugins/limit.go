package plugins

import (
	"bytes"
	"errors"
	"fmt"
	"github.com/monogres/monogres/internal/termsafe"
	"io"
	"strings"
	"sync"
)

// errOverflow is what a plugin's write sees once stdout is over its bound.
var errOverflow = errors.New("plugin stdout limit exceeded")

// boundedBuffer collects stdout up to max bytes. The first write past max
// calls onOverflow (which cancels the call) and fails.
type boundedBuffer struct {
	mu         sync.Mutex
	buf        bytes.Buffer
	max        int64
	overflowed bool
	onOverflow func()
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.overflowed || int64(b.buf.Len())+int64(len(p)) > b.max {
		if !b.overflowed {
			b.overflowed = true
			b.onOverflow()
		}
		return 0, errOverflow
	}
	return b.buf.Write(p)
}

func (b *boundedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Bytes()
}

// boundedWriter forwards up to max bytes to w (nil discards) and drops the
// rest, noting how much was dropped when finished.
type boundedWriter struct {
	mu      sync.Mutex
	w       io.Writer
	max     int64
	n       int64
	dropped int64
}

func (b *boundedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w == nil {
		return len(p), nil
	}
	keep := min(int64(len(p)), b.max-b.n)
	if keep > 0 {
		if _, err := b.w.Write(p[:keep]); err != nil {
			return 0, err
		}
		b.n += keep
	}
	b.dropped += int64(len(p)) - keep
	return len(p), nil // never fail the plugin over its diagnostics
}

// finish notes dropped output, once the plugin has stopped.
func (b *boundedWriter) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w == nil {
		return
	}
	if tw, ok := b.w.(*termsafe.Writer); ok {
		tw.Flush()
	}
	if b.dropped > 0 {
		fmt.Fprintf(b.w, "\n[monogres: %d more bytes of plugin stderr dropped after %d bytes]\n", b.dropped, b.max)
	}
}

// excerptBuffer keeps the first and the last max bytes written, to quote
// in errors: a Go panic or an SDK error is at the start, the rest at the end.
type excerptBuffer struct {
	mu         sync.Mutex
	head, tail []byte
	max        int
	total      int64
}

func (e *excerptBuffer) Write(p []byte) (int, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.total += int64(len(p))
	if n := min(len(p), e.max-len(e.head)); n > 0 {
		e.head = append(e.head, p[:n]...)
	}
	e.tail = append(e.tail, p...)
	if len(e.tail) > 2*e.max {
		e.tail = append([]byte(nil), e.tail[len(e.tail)-e.max:]...)
	}
	return len(p), nil
}

// note returns ": " and the one line of stderr that says what went wrong
// (the SDK's "plugin: ..." line, a Go "panic: ..." or "fatal error: ..."
// line, else the first non-empty line), noting how much more there was.
// The whole stderr goes to the caller's writer (a build's cell log), so
// a stack trace is shown once, there.
func (e *excerptBuffer) note() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(string(e.head)), "\n")
	if lines[0] == "" {
		return ""
	}
	pick := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "plugin: ") || strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			pick = i
			break
		}
	}
	more := ""
	switch {
	case e.total > int64(len(e.head)):
		more = " (more on the plugin's stderr)"
	case len(lines) > 1:
		more = fmt.Sprintf(" (%d more lines on the plugin's stderr)", len(lines)-1)
	}
	return ": " + termsafe.Escape(strings.TrimSpace(lines[pick])) + more
}
