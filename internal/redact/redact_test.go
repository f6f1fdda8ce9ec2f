package redact

import (
	"strings"
	"testing"
)

func TestHash(t *testing.T) {
	if Hash("") != "" {
		t.Fatal("Hash of nothing is not empty")
	}
	sid := "k2Vx4Qd3bT9wLs0P7mYcR1uN8eZaHjF5"
	h := Hash(sid)
	if len(h) != 12 || strings.Contains(sid, h) || strings.Contains(h, sid[:6]) {
		t.Fatalf("Hash(%q) = %q", sid, h)
	}
	if Hash(sid) != h || Hash(sid+"x") == h {
		t.Fatal("Hash is not a function of its input")
	}
}
