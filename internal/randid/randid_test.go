package randid

import "testing"

func TestNew(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := New()
		if len(id) != 43 || seen[id] {
			t.Fatalf("id %q (len %d, repeated %v)", id, len(id), seen[id])
		}
		seen[id] = true
	}
}
