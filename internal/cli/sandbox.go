package cli

import (
	"time"

	"github.com/monogres/monogres/build/sandbox"
	"github.com/monogres/monogres/internal/manifest"
)

// sandboxInit hands control to the build sandbox when this process is a
// re-executed sandbox init; it returns at once otherwise.
func sandboxInit() { sandbox.Init() }

// sandboxLimits are the manifest's [limits] for the sandbox; what it leaves
// out stays zero, which the sandbox fills from sandbox.DefaultLimits.
func sandboxLimits(l manifest.Limits) sandbox.Limits {
	return sandbox.Limits{
		Processes: l.Processes,
		Memory:    int64(l.Memory),
		CPUTime:   time.Duration(l.CPUTime),
		WallClock: time.Duration(l.WallClock),
		Tmpfs:     int64(l.Tmpfs),
	}
}
