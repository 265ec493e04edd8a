package plugins

import (
	"bytes"
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// TestCoalesceDataSameMemory instantiates a real Go plugin as built and
// as rewritten by coalesceData and compares their whole linear memory
// before any code runs: the rewrite must change how many segments
// wazero copies, never what memory holds.
func TestCoalesceDataSameMemory(t *testing.T) {
	orig := buildPlugin(t, "./examples/genfile")
	merged := coalesceData(orig)
	if bytes.Equal(orig, merged) {
		t.Fatal("coalesceData left the genfile plugin unchanged")
	}
	before, after := dataSegments(t, orig), dataSegments(t, merged)
	t.Logf("data segments: %d -> %d; wasm %d -> %d bytes", before, after, len(orig), len(merged))
	if after >= before/100 {
		t.Errorf("data segments %d -> %d: expected far fewer", before, after)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	var mems [][]byte
	for _, w := range [][]byte{orig, merged} {
		mod, err := rt.InstantiateWithConfig(ctx, w, wazero.NewModuleConfig().WithName("").WithStartFunctions())
		if err != nil {
			t.Fatal(err)
		}
		b, _ := mod.Memory().Read(0, mod.Memory().Size())
		mems = append(mems, bytes.Clone(b))
		mod.Close(ctx)
	}
	if !bytes.Equal(mems[0], mems[1]) {
		t.Fatalf("memory differs after instantiation (%d vs %d bytes)", len(mems[0]), len(mems[1]))
	}
	for _, bad := range [][]byte{nil, []byte("\x00asm\x01\x00\x00\x00\x0b\x05\x01\x01\x01x"), orig[:len(orig)/2]} {
		if got := coalesceData(bad); !bytes.Equal(got, bad) {
			t.Errorf("coalesceData rewrote a module it cannot read (%d bytes)", len(bad))
		}
	}
}

// dataSegments counts the segments in a module's data section.
func dataSegments(t *testing.T, wasm []byte) uint64 {
	t.Helper()
	for i := 8; i < len(wasm); {
		n, k := uvarint(wasm[i+1:])
		if wasm[i] == 11 {
			c, _ := uvarint(wasm[i+1+k:])
			return c
		}
		i += 1 + k + int(n)
	}
	t.Fatal("no data section")
	return 0
}

func uvarint(b []byte) (uint64, int) {
	var r uint64
	for i, c := range b {
		r |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return r, i + 1
		}
	}
	return 0, 0
}
