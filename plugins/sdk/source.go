//go:build !wasip1

package sdk

import "embed"

// Source is this package's source, which `monogres plugin init` and
// `monogres plugin build` vendor into a plugin's module as module
// ModulePath at SourceVersion: a plugin outside the monogres repository
// builds against the exact SDK of the monogres that builds it, with no
// replace directive and no local path in the wasm.
//
//go:embed *.go
var Source embed.FS

// ModulePath and SourceVersion name the vendored SDK module.
const (
	ModulePath    = "github.com/monogres/monogres/plugins/sdk"
	SourceVersion = "v1.0.0"
)
