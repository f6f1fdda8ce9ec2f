package session

import (
	"math"
	"time"
)

// expiryHeap is the [MemoryStore]'s queue of things that lapse: a 4-ary
// min-heap of (instant, item) in which each item keeps its own position
// (its slot method), so that removing or moving an item that is not the
// earliest costs O(log n) with no search and leaves nothing behind: the
// heap holds exactly the store's items, never a stale entry.
//
// Entries live in fixed-size chunks rather than one slice, so that growing
// or shrinking the heap never copies it: at 10⁶ sessions a slice's
// doubling would copy 16 MB under the store's lock.
type expiryHeap[T heapItem] struct {
	chunks [][]heapEntry[T]
	n      int
}

// heapItem is what an [expiryHeap] holds: a pointer whose slot method
// returns where the item's position in the heap is kept.
type heapItem interface {
	comparable
	slot() *int
}

type heapEntry[T any] struct {
	at   int64 // the instant, in Unix nanoseconds (see nanos)
	item T
}

const (
	chunkShift = 9 // 512 entries, 8 KiB for pointers
	chunkLen   = 1 << chunkShift
	chunkMask  = chunkLen - 1
)

// nanos is t in Unix nanoseconds, saturated outside the years 1678–2262
// that an int64 covers, so that the heap's order is never wrapped around.
func nanos(t time.Time) int64 {
	const maxSec = math.MaxInt64/int64(time.Second) - 1
	switch sec := t.Unix(); {
	case sec > maxSec:
		return math.MaxInt64
	case sec < -maxSec:
		return math.MinInt64
	}
	return t.UnixNano()
}

func (h *expiryHeap[T]) len() int { return h.n }

func (h *expiryHeap[T]) entry(i int) *heapEntry[T] {
	return &h.chunks[i>>chunkShift][i&chunkMask]
}

// set puts e at position i and records the position in the item.
func (h *expiryHeap[T]) set(i int, e heapEntry[T]) {
	*h.entry(i) = e
	*e.item.slot() = i
}

// min returns the earliest entry; ok is false when the heap is empty.
func (h *expiryHeap[T]) min() (e heapEntry[T], ok bool) {
	if h.n == 0 {
		return e, false
	}
	return *h.entry(0), true
}

// push adds item, which must not be in the heap, at instant at.
func (h *expiryHeap[T]) push(at int64, item T) {
	if h.n>>chunkShift == len(h.chunks) {
		h.chunks = append(h.chunks, make([]heapEntry[T], chunkLen))
	}
	h.n++
	h.up(h.n-1, heapEntry[T]{at, item})
}

// remove takes item, which must be in the heap, out of it.
func (h *expiryHeap[T]) remove(item T) {
	i := *item.slot()
	last := *h.entry(h.n - 1)
	*h.entry(h.n - 1) = heapEntry[T]{} // drop the reference
	h.n--
	*item.slot() = -1
	if i < h.n {
		h.fixAt(i, last)
	}
	// Keep one spare chunk so that a heap going back and forth over a
	// boundary does not allocate each time.
	if keep := h.n>>chunkShift + 2; len(h.chunks) > keep {
		clear(h.chunks[keep:])
		h.chunks = h.chunks[:keep]
	}
}

// move changes the instant of item, which must be in the heap, to at.
func (h *expiryHeap[T]) move(item T, at int64) {
	i := *item.slot()
	h.fixAt(i, heapEntry[T]{at, item})
}

// fixAt puts e at position i, which it may not keep, and restores the
// heap order around it.
func (h *expiryHeap[T]) fixAt(i int, e heapEntry[T]) {
	if i > 0 && e.at < h.entry((i-1)/4).at {
		h.up(i, e)
	} else {
		h.down(i, e)
	}
}

// up places e at position i or above it.
func (h *expiryHeap[T]) up(i int, e heapEntry[T]) {
	for i > 0 {
		p := (i - 1) / 4
		pe := *h.entry(p)
		if pe.at <= e.at {
			break
		}
		h.set(i, pe)
		i = p
	}
	h.set(i, e)
}

// down places e at position i or below it.
func (h *expiryHeap[T]) down(i int, e heapEntry[T]) {
	for {
		c := 4*i + 1
		if c >= h.n {
			break
		}
		best := c
		for j := c + 1; j < c+4 && j < h.n; j++ {
			if h.entry(j).at < h.entry(best).at {
				best = j
			}
		}
		be := *h.entry(best)
		if e.at <= be.at {
			break
		}
		h.set(i, be)
		i = best
	}
	h.set(i, e)
}
