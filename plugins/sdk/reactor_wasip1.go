//go:build wasip1

package sdk

import _ "unsafe" // go:linkname

// mainMain is the plugin's main function.
//
//go:linkname mainMain main.main
func mainMain()

// reactorMain runs the plugin's main function in a module built as a WASI
// reactor (go build -buildmode=c-shared, as `monogres plugin build` does):
// the host runs _initialize (the Go runtime and every package's init)
// once per module in a template instance, keeps the memory and globals it
// left, and calls this export in a fresh instance holding a copy of them,
// once per request. Package init therefore sees no request and an empty
// source tree: read the tree in the plan function, not in init.
//
//go:wasmexport monogres_main
func reactorMain() { mainMain() }

func init() { warm() }
