package plugins

import (
	"bytes"
	"errors"
	"fmt"
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
	if b.w != nil && b.dropped > 0 {
		fmt.Fprintf(b.w, "\n[monogres: %d more bytes of plugin stderr dropped after %d bytes]\n", b.dropped, b.max)
	}
}

// tailBuffer keeps the last max bytes written, to quote in errors.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > 2*t.max {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-t.max:]...)
	}
	return len(p), nil
}

// note returns "; stderr: ..." with the last lines of stderr, or "".
func (t *tailBuffer) note() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.buf
	if len(s) > t.max {
		s = s[len(s)-t.max:]
	}
	text := strings.TrimSpace(string(s))
	if text == "" {
		return ""
	}
	if lines := strings.Split(text, "\n"); len(lines) > 8 {
		text = "...\n" + strings.Join(lines[len(lines)-8:], "\n")
	}
	return "; stderr:\n" + text
}
