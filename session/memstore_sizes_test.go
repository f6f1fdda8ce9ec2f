package session

import (
	"runtime"
	"testing"
	"unsafe"
)

var sink any

// TestMemoryStoreCopySizes: Get's copy of a session with Claims of each
// size takes one allocation of the size class it was made for, not the
// next one up (the allocator's classes and its header above 512 bytes
// are what the sessionAnd types assume).
func TestMemoryStoreCopySizes(t *testing.T) {
	for _, c := range []struct {
		size  uintptr
		alloc func() any
	}{
		{512, func() any { return new(sessionAnd512) }},
		{768, func() any { return new(sessionAnd768) }},
		{1024, func() any { return new(sessionAnd1K) }},
		{1536, func() any { return new(sessionAnd1536) }},
		{2048, func() any { return new(sessionAnd2K) }},
		{3072, func() any { return new(sessionAnd3K) }},
		{4096, func() any { return new(sessionAnd4K) }},
	} {
		got := ^uint64(0)
		for range 5 { // the least of a few tries: other goroutines allocate too
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range 100 {
				sink = c.alloc()
			}
			runtime.ReadMemStats(&after)
			got = min(got, (after.TotalAlloc-before.TotalAlloc)/100)
		}
		if got != uint64(c.size) {
			t.Errorf("a Session with room for %d bytes of claims takes %d bytes, want %d", c.size, got, c.size)
		}
	}
	if unsafe.Sizeof(record{}) > 512 {
		t.Errorf("a record is %d bytes, over 512: the allocator adds a header", unsafe.Sizeof(record{}))
	}
}
