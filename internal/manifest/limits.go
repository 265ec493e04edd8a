package manifest

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limits bound the sandbox of every build action ([limits]); a field left
// out keeps the sandbox's default (sandbox.DefaultLimits). They decide
// nothing about the outputs, so they are not part of any action key.
type Limits struct {
	// Processes bounds the processes and threads of one action.
	Processes int64 `toml:"processes" json:"processes,omitempty"`
	// Memory bounds the memory of one action, tmpfs contents included.
	Memory Bytes `toml:"memory" json:"memory,omitempty"`
	// CPUTime bounds the CPU time of each process.
	CPUTime Duration `toml:"cpu_time" json:"cpu_time,omitempty"`
	// WallClock bounds one action.
	WallClock Duration `toml:"wall_clock" json:"wall_clock,omitempty"`
	// Tmpfs is the size of each tmpfs (/tmp, /dev/shm, /build/home).
	Tmpfs Bytes `toml:"tmpfs" json:"tmpfs,omitempty"`
}

func (l Limits) check() error {
	if l.Processes < 0 {
		return fmt.Errorf("limits.processes: %d is negative", l.Processes)
	}
	return nil
}

// Bytes is a size written "8GiB", "512MiB", "64KiB" or a plain byte count
// ("1048576"), always as a string.
type Bytes int64

// UnmarshalText implements encoding.TextUnmarshaler.
func (b *Bytes) UnmarshalText(text []byte) error {
	n, err := ParseBytes(string(text))
	if err != nil {
		return err
	}
	*b = Bytes(n)
	return nil
}

// ParseBytes reads a positive size: digits with an optional KiB, MiB, GiB
// or TiB suffix.
func ParseBytes(s string) (int64, error) {
	num, mult := s, int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q: want a positive size such as \"8GiB\", \"512MiB\" or a byte count", s)
	}
	return n * mult, nil
}

// Duration is a time span written as Go writes one: "90s", "2h", "1h30m".
type Duration time.Duration

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(text []byte) error {
	v, err := time.ParseDuration(string(text))
	if err != nil || v <= 0 {
		return fmt.Errorf("bad duration %q: want a positive duration such as \"90s\" or \"2h\"", text)
	}
	*d = Duration(v)
	return nil
}
