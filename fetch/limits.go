package fetch

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/monogres/monogres/internal/event"
	"github.com/monogres/monogres/internal/manifest"
)

// Defaults for Limits.
const (
	DefaultMaxSize    = 4 << 30 // bytes
	DefaultDeadline   = time.Hour
	DefaultMinRate    = 4 << 10 // bytes per second
	DefaultRateWindow = 60 * time.Second
)

// Limits bound every download (fetch and lock-time hashing alike) against
// hostile or broken servers: an endless or huge stream, a server trickling
// one byte every few seconds. Zero fields take the defaults.
type Limits struct {
	// MaxSize caps a download whose size monogres.lock does not pin (a
	// pinned size is its own cap); 0 = DefaultMaxSize.
	MaxSize int64
	// Deadline bounds the download of one URL, retries included; 0 =
	// DefaultDeadline.
	Deadline time.Duration
	// MinRate is the lowest rate (bytes per second, averaged over each
	// RateWindow) a download may run at; 0 = DefaultMinRate, < 0 = none.
	MinRate int64
	// RateWindow is the span MinRate is measured over; 0 = DefaultRateWindow.
	RateWindow time.Duration
}

// Environment variables that set Limits (see LimitsFromEnv).
const (
	EnvMaxSize  = "MONOGRES_FETCH_MAX_SIZE" // bytes, or with a KiB/MiB/GiB suffix
	EnvDeadline = "MONOGRES_FETCH_DEADLINE" // a Go duration: 30m, 2h
	EnvMinRate  = "MONOGRES_FETCH_MIN_RATE" // bytes per second, or with a suffix; 0 = off
)

// LimitsFromEnv reads Limits from the environment; unset variables keep
// the defaults. A malformed value is an error naming the variable.
func LimitsFromEnv() (Limits, error) {
	var l Limits
	var errs []error
	if v := os.Getenv(EnvMaxSize); v != "" {
		n, err := manifest.ParseBytes(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive size such as 4GiB", EnvMaxSize, v))
		}
		l.MaxSize = n
	}
	if v := os.Getenv(EnvDeadline); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			errs = append(errs, fmt.Errorf("%s=%q: want a positive duration such as 2h", EnvDeadline, v))
		}
		l.Deadline = d
	}
	if v := os.Getenv(EnvMinRate); v != "" {
		var n int64
		var err error
		if strings.TrimSpace(v) != "0" {
			n, err = manifest.ParseBytes(v)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: want bytes per second such as 4KiB (0 = no minimum)", EnvMinRate, v))
		}
		if n == 0 {
			n = -1
		}
		l.MinRate = n
	}
	return l, errors.Join(errs...)
}

func (l Limits) maxSize() int64 {
	if l.MaxSize <= 0 {
		return DefaultMaxSize
	}
	return l.MaxSize
}

func (l Limits) deadline() time.Duration {
	if l.Deadline <= 0 {
		return DefaultDeadline
	}
	return l.Deadline
}

func (l Limits) minRate() int64 {
	if l.MinRate == 0 {
		return DefaultMinRate
	}
	return max(l.MinRate, 0)
}

func (l Limits) rateWindow() time.Duration {
	if l.RateWindow <= 0 {
		return DefaultRateWindow
	}
	return l.RateWindow
}

// SizeError is a download stopped at the size cap. Nothing was stored.
type SizeError struct {
	URL       string
	Max       int64
	Announced int64 // the Content-Length or file size, when that alone was too big
	Pinned    bool  // Max is the size monogres.lock pins
}

func (e *SizeError) Error() string {
	if e.Pinned {
		return fmt.Sprintf("stopped: %s sent more than the %d bytes monogres.lock pins for it", e.URL, e.Max)
	}
	what := "sent"
	if e.Announced > 0 {
		what = fmt.Sprintf("announces %d bytes,", e.Announced)
	}
	return fmt.Sprintf("stopped: %s %s more than %d bytes (%s), the cap on downloads whose size monogres.lock does not pin (set %s to raise it)", e.URL, what, e.Max, event.FormatBytes(e.Max), EnvMaxSize)
}

// SlowError is a download stopped below the minimum rate.
type SlowError struct {
	URL     string
	Got     int64         // bytes in the last window
	Window  time.Duration // the window
	MinRate int64         // bytes per second
}

func (e *SlowError) Error() string {
	return fmt.Sprintf("stopped: %s sent %d bytes in %v, below the minimum rate of %d bytes/s (set %s to change it)", e.URL, e.Got, e.Window, e.MinRate, EnvMinRate)
}

// DeadlineError is a download stopped at its deadline.
type DeadlineError struct {
	URL      string
	Deadline time.Duration
	Got      int64 // bytes received by then
}

func (e *DeadlineError) Error() string {
	return fmt.Sprintf("stopped: %s did not finish within the %v deadline per download (%d bytes received; set %s to change it)", e.URL, e.Deadline, e.Got, EnvDeadline)
}
