package plugins

import (
	"bytes"
	"encoding/binary"
	"errors"
)

// coalesceData rewrites a module's data section so that its active
// segments become a few large ones with the same effect on memory: Go's
// linker emits tens of thousands of small segments (44,022 for the genfile
// example), and wazero evaluates and copies each one on every
// instantiation. The segments are laid into one image in order (a later
// segment overwrites an earlier one, as at instantiation) and the image is
// emitted in runs split at zero gaps of at least coalesceGap bytes; bytes
// inside a run that no segment wrote are zero, which is what fresh memory
// holds. A module it cannot rewrite exactly (passive segments, a data
// count section, offsets that are not constants, anything malformed) is
// returned unchanged: this is an optimisation, never a new way to fail.
func coalesceData(wasm []byte) []byte {
	if len(wasm) < 8 || !bytes.Equal(wasm[:8], []byte("\x00asm\x01\x00\x00\x00")) {
		return wasm
	}
	start, end := -1, -1 // the data section's payload
	for i := 8; i < len(wasm); {
		id := wasm[i]
		n, k := binary.Uvarint(wasm[i+1:])
		if k <= 0 || uint64(len(wasm)-i-1-k) < n {
			return wasm
		}
		body := i + 1 + k
		switch id {
		case 12: // data count: segment indices are visible to code
			return wasm
		case 11:
			start, end = body, body+int(n)
		}
		i = body + int(n)
	}
	if start < 0 {
		return wasm
	}
	runs, ok := coalesceSegments(wasm[start:end])
	if !ok {
		return wasm
	}
	var sec []byte
	sec = binary.AppendUvarint(sec, uint64(len(runs)))
	for _, r := range runs {
		sec = append(sec, 0, 0x41) // active, memory 0; i32.const
		sec = appendSleb32(sec, int32(r.off))
		sec = append(sec, 0x0b)
		sec = binary.AppendUvarint(sec, uint64(len(r.data)))
		sec = append(sec, r.data...)
	}
	// The section header sits right before start: id, then its size.
	hdr := start - 1
	for wasm[hdr-1]&0x80 != 0 {
		hdr--
	}
	hdr-- // the id byte
	out := append([]byte(nil), wasm[:hdr]...)
	out = append(out, 11)
	out = binary.AppendUvarint(out, uint64(len(sec)))
	out = append(out, sec...)
	return append(out, wasm[end:]...)
}

// coalesceGap is the shortest run of zeros that splits two output segments.
const coalesceGap = 4096

type dataRun struct {
	off  uint32
	data []byte
}

// coalesceSegments parses a data section payload of active memory-0
// segments with i32.const offsets and returns the memory image they write
// as runs; ok is false for anything else.
func coalesceSegments(p []byte) (runs []dataRun, ok bool) {
	type seg struct {
		off  uint32
		data []byte
	}
	count, k := binary.Uvarint(p)
	if k <= 0 || count == 0 {
		return nil, false
	}
	p = p[k:]
	segs := make([]seg, 0, min(count, 1<<20))
	lo, hi := ^uint64(0), uint64(0)
	for range count {
		if len(p) < 2 || p[0] != 0 || p[1] != 0x41 {
			return nil, false
		}
		off, n, err := readSleb32(p[2:])
		if err != nil || len(p) < 2+n+1 || p[2+n] != 0x0b {
			return nil, false
		}
		p = p[2+n+1:]
		size, k := binary.Uvarint(p)
		if k <= 0 || uint64(len(p)-k) < size {
			return nil, false
		}
		data := p[k : k+int(size)]
		p = p[k+int(size):]
		if size == 0 {
			continue
		}
		o := uint64(uint32(off))
		lo, hi = min(lo, o), max(hi, o+size)
		segs = append(segs, seg{uint32(off), data})
	}
	if len(p) != 0 || len(segs) == 0 || hi-lo > 1<<30 {
		return nil, false
	}
	img := make([]byte, hi-lo)
	for _, s := range segs {
		copy(img[uint64(s.off)-lo:], s.data)
	}
	// Emit runs, splitting at zero gaps of coalesceGap or more.
	for i := 0; i < len(img); {
		for i < len(img) && img[i] == 0 {
			i++
		}
		if i == len(img) {
			break
		}
		j, zeros := i, 0
		for j < len(img) && zeros < coalesceGap {
			if img[j] == 0 {
				zeros++
			} else {
				zeros = 0
			}
			j++
		}
		j -= zeros
		runs = append(runs, dataRun{uint32(lo) + uint32(i), img[i:j]})
		i = j
	}
	return runs, true
}

var errSleb = errors.New("bad signed LEB128")

// readSleb32 decodes a signed LEB128 i32 and returns it and its length.
func readSleb32(p []byte) (int32, int, error) {
	var r int64
	var shift uint
	for i := 0; i < len(p) && i < 5; i++ {
		b := p[i]
		r |= int64(b&0x7f) << shift
		shift += 7
		if b&0x80 == 0 {
			if shift < 64 && b&0x40 != 0 {
				r |= -1 << shift
			}
			if r < -1<<31 || r > 1<<31-1 {
				return 0, 0, errSleb
			}
			return int32(r), i + 1, nil
		}
	}
	return 0, 0, errSleb
}

func appendSleb32(b []byte, v int32) []byte {
	x := int64(v)
	for {
		c := byte(x & 0x7f)
		x >>= 7
		if x == 0 && c&0x40 == 0 || x == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
