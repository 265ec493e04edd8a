package plugins

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/monogres/monogres/internal/testenv"
)

// sharedCacheDir is the compile cache shared by the tests, set once in
// TestMain before any test runs: wasm-cache in the test cache, so the
// test plugins are compiled once per wazero version and module, not once
// per run (a cold compile of a Go plugin takes 5-30 s). Tests of the cold
// path (TestCompileCacheOnDisk, TestDeterministicPlan) use a cache of
// their own.
var sharedCacheDir string

func TestMain(m *testing.M) {
	dir, err := testenv.Dir()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedCacheDir = filepath.Join(dir, "wasm-cache")
	os.Exit(m.Run())
}
