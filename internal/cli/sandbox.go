package cli

// sandboxInit hands control to the build sandbox when this process is a
// re-executed sandbox init.
func sandboxInit() {}
