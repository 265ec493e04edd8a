package cli

import "github.com/monogres/monogres/build/sandbox"

// sandboxInit hands control to the build sandbox when this process is a
// re-executed sandbox init; it returns at once otherwise.
func sandboxInit() { sandbox.Init() }
