package build_test

import (
	"context"
	"testing"
)

func TestZZWarmRoots(t *testing.T) {
	st := testStore(t)
	tc, err := realToolchain(t, st.Dir())(context.Background(), "arm64")
	t.Log(tc, err)
}
