//go:build unix

package plugins

import (
	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// mmapAllocator backs each plugin's linear memory with one anonymous
// mapping of its maximum size: growing never copies and fresh pages cost
// nothing until touched. When an instance closes, the pages it used are
// zeroed and the mapping goes back to a small pool, so the next instance
// starts from the same all-zero memory a fresh mapping gives but without
// paying a page fault per touched page again (on a busy VM those faults
// were most of a warm call's cost). Nil means the mapping failed; wazero
// then uses Go slices.
func mmapAllocator() experimental.MemoryAllocator {
	return experimental.MemoryAllocatorFunc(func(_, max uint64) experimental.LinearMemory {
		if max == 0 {
			return nil
		}
		select {
		case m := <-memPool:
			if uint64(len(m.buf)) == max {
				return m
			}
			m.unmap()
		default:
		}
		b, err := unix.Mmap(-1, 0, int(max), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON|unix.MAP_NORESERVE)
		if err != nil {
			return nil
		}
		return &mmapMemory{buf: b}
	})
}

// memPool holds zeroed mappings for reuse; poolMaxUsed bounds the pages a
// pooled mapping may have used (clearing more costs more than faulting it
// afresh, and the pool should not pin much resident memory).
var memPool = make(chan *mmapMemory, 4)

const poolMaxUsed = 64 << 20

type mmapMemory struct {
	buf  []byte
	used uint64 // high-water size handed to wazero
}

func (m *mmapMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(m.buf)) {
		return nil
	}
	m.used = max(m.used, size)
	return m.buf[:size]
}

// Free zeroes what the instance used and pools the mapping, or unmaps it.
// wazero calls it once, after the instance has stopped running.
func (m *mmapMemory) Free() {
	if m.buf == nil {
		return
	}
	if m.used > poolMaxUsed {
		m.unmap()
		return
	}
	clear(m.buf[:m.used])
	m.used = 0
	select {
	case memPool <- m:
	default:
		m.unmap()
	}
}

func (m *mmapMemory) unmap() {
	unix.Munmap(m.buf)
	m.buf = nil
}
