package plugins

import (
	"fmt"
	"os"
	"testing"
)

// sharedCacheDir is the compile cache shared by the tests of one run; it is
// set once in TestMain before any test runs.
var sharedCacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "monogres-plugins-test-cache-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sharedCacheDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
