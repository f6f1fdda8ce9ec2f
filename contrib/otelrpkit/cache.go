package otelrpkit

import (
	"maps"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// maxCached bounds a cache: past it, a new combination of attribute values
// is recorded with options built for that call and not kept, so that a
// stream of unexpected values costs allocations, not memory.
const maxCached = 1024

// opts are the measurement options of one combination of attribute values,
// built once: passing a stored slice to Add or Record allocates nothing.
type opts struct {
	add    []metric.AddOption
	record []metric.RecordOption
}

// cache maps a combination of attribute values to its options. Reads load
// an immutable map without locking; a miss copies the map under mu.
type cache[K comparable] struct {
	m  atomic.Pointer[map[K]*opts]
	mu sync.Mutex
}

func (c *cache[K]) get(k K, attrs func(K) []attribute.KeyValue) *opts {
	if m := c.m.Load(); m != nil {
		if o, ok := (*m)[k]; ok {
			return o
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.m.Load()
	if old != nil {
		if o, ok := (*old)[k]; ok {
			return o
		}
	}
	set := attribute.NewSet(attrs(k)...)
	opt := metric.WithAttributeSet(set)
	o := &opts{add: []metric.AddOption{opt}, record: []metric.RecordOption{opt}}
	if old != nil && len(*old) >= maxCached {
		return o
	}
	m := map[K]*opts{}
	if old != nil {
		m = maps.Clone(*old)
	}
	m[k] = o
	c.m.Store(&m)
	return o
}
