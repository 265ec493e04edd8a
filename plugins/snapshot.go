package plugins

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"

	"github.com/tetratelabs/wazero/api"
)

// A plugin built as a WASI reactor (go build -buildmode=c-shared, which
// `monogres plugin build` does for a plugin using the SDK) exports
// _initialize, which starts the Go runtime and runs every package's init,
// and monogres_main (package sdk), which runs the plugin's main function.
// The host runs _initialize once per compiled module in a template
// instance, with fixed inputs and no request, and keeps the state it left:
// linear memory and mutable globals. Every call still gets a fresh
// instance: it is instantiated without running anything, the template's
// memory and globals are written into it, and monogres_main runs there. A
// wasm instance between two calls of its exports has no state beyond
// memory, globals and tables (the wasm call stack is empty), and Go never
// changes its table, so the fresh instance is the template exactly; what
// one call does to its instance is thrown away with it. The template never
// sees a request or a source tree (it gets an empty /src), so nothing of
// one call can reach another through it.
const (
	reactorInit = "_initialize"
	reactorMain = "monogres_main"
	// globalExport prefixes the names under which exportGlobals exports a
	// reactor's globals (Go exports none), so the host can read and set
	// them; followed by the global's index.
	globalExport = "monogres.global."
)

// snapshot is a template instance's state after _initialize.
type snapshot struct {
	pages   uint32         // memory size, in 64 KiB pages
	runs    []dataRun      // where memory differs from a just-instantiated one
	globals map[int]uint64 // mutable global index -> value
	// stdout and stderr are what package init wrote; every call's
	// streams start with them, as a command module's would.
	stdout, stderr []byte
}

// snapshotPage is the granularity at which template memory is compared
// with freshly instantiated memory.
const snapshotPage = 4096

// takeSnapshot records mod's state; base is its memory as instantiated,
// before _initialize ran; nglobals is how many globals exportGlobals
// exported.
func takeSnapshot(mod api.Module, base []byte, nglobals int) (*snapshot, error) {
	s := &snapshot{globals: map[int]uint64{}}
	if mem := mod.Memory(); mem != nil {
		size := mem.Size()
		s.pages = size / 65536
		now, ok := mem.Read(0, size)
		if !ok {
			return nil, fmt.Errorf("reading linear memory")
		}
		s.runs = diffPages(base, now)
	}
	for i := range nglobals {
		g := mod.ExportedGlobal(globalExport + strconv.Itoa(i))
		if g == nil {
			return nil, fmt.Errorf("global %d is not exported", i)
		}
		mg, ok := g.(api.MutableGlobal)
		if !ok {
			continue // constant: the fresh instance has it already
		}
		switch g.Type() {
		case api.ValueTypeI32, api.ValueTypeI64, api.ValueTypeF32, api.ValueTypeF64:
		default:
			return nil, fmt.Errorf("global %d has type %s, which the host cannot copy", i, api.ValueTypeName(g.Type()))
		}
		s.globals[i] = mg.Get()
	}
	return s, nil
}

// diffPages returns the pages of now that differ from base (bytes past
// the end of base count as zero), merged into runs.
func diffPages(base, now []byte) []dataRun {
	var runs []dataRun
	var zero [snapshotPage]byte
	for off := 0; off < len(now); off += snapshotPage {
		end := min(off+snapshotPage, len(now))
		var was []byte
		if off < len(base) {
			was = base[off:min(end, len(base))]
		}
		page := now[off:end]
		if bytes.Equal(page[:len(was)], was) && bytes.Equal(page[len(was):], zero[:len(page)-len(was)]) {
			continue
		}
		if n := len(runs); n > 0 && int(runs[n-1].off)+len(runs[n-1].data) == off {
			runs[n-1].data = append(runs[n-1].data, page...)
			continue
		}
		runs = append(runs, dataRun{uint32(off), bytes.Clone(page)})
	}
	return runs
}

// restore writes s into mod, a just-instantiated instance of the same
// compiled module.
func (s *snapshot) restore(mod api.Module) error {
	if s.pages > 0 {
		mem := mod.Memory()
		if cur := mem.Size() / 65536; cur < s.pages {
			if _, ok := mem.Grow(s.pages - cur); !ok {
				return fmt.Errorf("growing linear memory to %d pages", s.pages)
			}
		}
		for _, r := range s.runs {
			if !mem.Write(r.off, r.data) {
				return fmt.Errorf("writing linear memory at %d", r.off)
			}
		}
	}
	for i, v := range s.globals {
		mod.ExportedGlobal(globalExport + strconv.Itoa(i)).(api.MutableGlobal).Set(v)
	}
	return nil
}

// exportGlobals returns wasm with every global it defines exported as
// globalExport+index, and their number, when wasm is a reactor plugin
// (it exports functions _initialize and monogres_main). ok is false for a
// command module or a module it cannot rewrite (non-function imports, a
// name already taken, anything malformed), which is returned unchanged.
func exportGlobals(wasm []byte) (out []byte, nglobals int, ok bool) {
	if len(wasm) < 8 || !bytes.Equal(wasm[:8], []byte("\x00asm\x01\x00\x00\x00")) {
		return wasm, 0, false
	}
	expStart, expEnd := -1, -1
	for i := 8; i < len(wasm); {
		id := wasm[i]
		n, k := binary.Uvarint(wasm[i+1:])
		if k <= 0 || uint64(len(wasm)-i-1-k) < n {
			return wasm, 0, false
		}
		body := wasm[i+1+k : i+1+k+int(n)]
		switch id {
		case 2: // imports: only functions, so globals are numbered from 0
			if !funcImportsOnly(body) {
				return wasm, 0, false
			}
		case 6:
			c, k := binary.Uvarint(body)
			if k <= 0 || c > 1<<16 {
				return wasm, 0, false
			}
			nglobals = int(c)
		case 7:
			expStart, expEnd = i+1+k, i+1+k+int(n)
		}
		i += 1 + k + int(n)
	}
	if expStart < 0 {
		return wasm, 0, false
	}
	p := wasm[expStart:expEnd]
	count, k := binary.Uvarint(p)
	if k <= 0 {
		return wasm, 0, false
	}
	entries := p[k:]
	var haveInit, haveMain bool
	q := entries
	for range count {
		n, k := binary.Uvarint(q)
		if k <= 0 || uint64(len(q)-k) < n+1 {
			return wasm, 0, false
		}
		name := string(q[k : k+int(n)])
		kind := q[k+int(n)]
		q = q[k+int(n)+1:]
		_, k = binary.Uvarint(q)
		if k <= 0 {
			return wasm, 0, false
		}
		q = q[k:]
		switch {
		case kind == 0 && name == reactorInit:
			haveInit = true
		case kind == 0 && name == reactorMain:
			haveMain = true
		case len(name) >= len(globalExport) && name[:len(globalExport)] == globalExport:
			return wasm, 0, false
		}
	}
	if len(q) != 0 || !haveInit || !haveMain {
		return wasm, 0, false
	}
	sec := binary.AppendUvarint(nil, count+uint64(nglobals))
	sec = append(sec, entries...)
	for i := range nglobals {
		name := globalExport + strconv.Itoa(i)
		sec = binary.AppendUvarint(sec, uint64(len(name)))
		sec = append(sec, name...)
		sec = append(sec, 3) // global
		sec = binary.AppendUvarint(sec, uint64(i))
	}
	hdr := expStart - 1
	for wasm[hdr-1]&0x80 != 0 {
		hdr--
	}
	hdr-- // the id byte
	out = append([]byte(nil), wasm[:hdr]...)
	out = append(out, 7)
	out = binary.AppendUvarint(out, uint64(len(sec)))
	out = append(out, sec...)
	return append(out, wasm[expEnd:]...), nglobals, true
}

// funcImportsOnly reports whether an import section payload imports
// functions only.
func funcImportsOnly(p []byte) bool {
	count, k := binary.Uvarint(p)
	if k <= 0 {
		return false
	}
	p = p[k:]
	for range count {
		for range 2 { // module and field names
			n, k := binary.Uvarint(p)
			if k <= 0 || uint64(len(p)-k) < n {
				return false
			}
			p = p[k+int(n):]
		}
		if len(p) < 1 || p[0] != 0 {
			return false
		}
		_, k := binary.Uvarint(p[1:])
		if k <= 0 {
			return false
		}
		p = p[1+k:]
	}
	return len(p) == 0
}
