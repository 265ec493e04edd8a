//go:build !unix

package plugins

import "github.com/tetratelabs/wazero/experimental"

// mmapAllocator is unavailable here; wazero's default allocator is used.
func mmapAllocator() experimental.MemoryAllocator { return nil }
