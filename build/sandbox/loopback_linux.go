package sandbox

// LoopbackUp brings up lo in the calling process's network namespace (as
// the sandbox does in its own); tests start "machines" in fresh network
// namespaces with it (remote/remotetest).
func LoopbackUp() error { return loopbackUp() }
