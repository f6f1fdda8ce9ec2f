package session

import "slices"

// MemoryDump is what a MemoryStore holds, for tests that look inside.
type MemoryDump struct {
	Records  map[string]Session  // record key → stored session
	SIDs     map[string][]string // "issuer sid" → record keys, sorted
	Subjects map[string][]string // "issuer subject" → record keys, sorted
}

// Dump copies the store's maps.
func (m *MemoryStore) Dump() MemoryDump {
	m.mu.RLock()
	defer m.mu.RUnlock()
	d := MemoryDump{Records: make(map[string]Session)}
	for k, rec := range m.records {
		d.Records[k] = *rec
	}
	d.SIDs = dumpIndex(m.bySID)
	d.Subjects = dumpIndex(m.bySubject)
	return d
}

func dumpIndex(index map[indexKey]map[string]struct{}) map[string][]string {
	out := make(map[string][]string)
	for k, set := range index {
		var keys []string
		for key := range set {
			keys = append(keys, key)
		}
		slices.Sort(keys)
		out[k.issuer+" "+k.value] = keys
	}
	return out
}

// SweepInterval is the least time between two sweeps.
const SweepInterval = sweepInterval
