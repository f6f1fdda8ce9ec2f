package redistest

import (
	"strings"
	"testing"
)

func TestStart(t *testing.T) {
	var addr string
	t.Run("server", func(t *testing.T) {
		addr = Start(t)
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("Start = %q, want a 127.0.0.1 address", addr)
		}
		if got, err := command(addr, "PING"); got != "PONG" || err != nil {
			t.Fatalf("PING = %q, %v", got, err)
		}
	})
	if addr == "" {
		return // skipped
	}
	if _, err := command(addr, "PING"); err == nil {
		t.Errorf("server at %s still answers after its test ended", addr)
	}
}

func TestStartCluster(t *testing.T) {
	addrs := StartCluster(t)
	if len(addrs) != 3 {
		t.Fatalf("StartCluster = %v, want 3 addresses", addrs)
	}
	for _, a := range addrs {
		info, err := command(a, "CLUSTER", "INFO")
		if err != nil {
			t.Fatalf("CLUSTER INFO on %s: %v", a, err)
		}
		for _, want := range []string{"cluster_state:ok", "cluster_known_nodes:3", "cluster_size:3", "cluster_slots_assigned:16384"} {
			if !strings.Contains(info, want) {
				t.Errorf("CLUSTER INFO on %s lacks %s:\n%s", a, want, info)
			}
		}
	}
}
