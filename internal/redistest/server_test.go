package redistest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestServerAOFSurvivesKillAndRestart(t *testing.T) {
	s := StartServer(t, Options{AOF: true})
	if got, err := command(s.Addr(), "SET", "k", "v"); got != "OK" || err != nil {
		t.Fatalf("SET = %q, %v", got, err)
	}
	s.Kill()
	if _, err := command(s.Addr(), "PING"); err == nil {
		t.Fatalf("server at %s still answers after Kill", s.Addr())
	}
	s.Kill() // a no-op on a killed server

	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got, err := command(s.Addr(), "GET", "k"); got != "v" || err != nil {
		t.Fatalf("GET k after Kill and Restart = %q, %v; want \"v\" from the AOF", got, err)
	}
	info, err := command(s.Addr(), "INFO", "persistence")
	if err != nil || !strings.Contains(info, "aof_enabled:1") {
		t.Errorf("INFO persistence = %v:\n%s\nwant aof_enabled:1", err, info)
	}

	// Restart on a running server kills it first; the data is still there.
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got, err := command(s.Addr(), "GET", "k"); got != "v" || err != nil {
		t.Fatalf("GET k after a second Restart = %q, %v", got, err)
	}
}

func TestServerWithoutAOFLosesDataOnKill(t *testing.T) {
	s := StartServer(t, Options{})
	if got, err := command(s.Addr(), "SET", "k", "v"); got != "OK" || err != nil {
		t.Fatalf("SET = %q, %v", got, err)
	}
	s.Kill()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got, err := command(s.Addr(), "DBSIZE"); got != "0" || err != nil {
		t.Fatalf("DBSIZE after Kill and Restart without AOF = %q, %v; want 0", got, err)
	}
}

func TestServerClose(t *testing.T) {
	s := StartServer(t, Options{})
	s.Close()
	if _, err := command(s.Addr(), "PING"); err == nil {
		t.Fatalf("server at %s still answers after Close", s.Addr())
	}
	s.Close() // idempotent
	if err := s.Restart(); err == nil {
		t.Fatal("Restart after Close succeeded")
	}
}

func TestServerDirIsKept(t *testing.T) {
	dir := t.TempDir()
	s := StartServer(t, Options{AOF: true, Dir: dir})
	if s.Dir() != dir {
		t.Errorf("Dir = %q, want %q", s.Dir(), dir)
	}
	if got, err := command(s.Addr(), "SET", "k", "v"); got != "OK" || err != nil {
		t.Fatalf("SET = %q, %v", got, err)
	}
	s.Close()
	if _, err := os.Stat(filepath.Join(dir, "redis.log")); err != nil {
		t.Errorf("no redis.log in Dir: %v", err)
	}

	// Another server on the same directory (a new port) loads the AOF.
	s2 := StartServer(t, Options{AOF: true, Dir: dir})
	if got, err := command(s2.Addr(), "GET", "k"); got != "v" || err != nil {
		t.Fatalf("GET k on a new server in the same Dir = %q, %v", got, err)
	}
}

func TestServerVolatileLRUEvicts(t *testing.T) {
	s := StartServer(t, Options{MaxMemory: "2mb", MaxMemoryPolicy: "volatile-lru"})
	mem, err := command(s.Addr(), "INFO", "memory")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\r\nmaxmemory:2097152\r\n", "\r\nmaxmemory_policy:volatile-lru\r\n"} {
		if !strings.Contains(mem, want) {
			t.Fatalf("INFO memory lacks %q:\n%s", strings.TrimSpace(want), mem)
		}
	}

	// 4000 keys of 1 KiB, each with a TTL: twice the limit. Every write
	// succeeds, by evicting earlier keys.
	const n = 4000
	replies := pipeline(t, s.Addr(), setCommands(n, true))
	for i, r := range replies {
		if r != "+OK" {
			t.Fatalf("SET #%d = %q, want +OK (volatile-lru evicts instead of failing)", i, r)
		}
	}
	stats, err := command(s.Addr(), "INFO", "stats")
	if err != nil {
		t.Fatal(err)
	}
	evicted := infoInt(t, stats, "evicted_keys")
	if evicted <= 0 {
		t.Fatalf("evicted_keys = %d after writing %d KiB under maxmemory 2mb, want > 0", evicted, n)
	}
	size, err := command(s.Addr(), "DBSIZE")
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := strconv.Atoi(size); got >= n {
		t.Errorf("DBSIZE = %s, want fewer than the %d keys written", size, n)
	}
	t.Logf("evicted %d of %d keys; %s left", evicted, n, size)
}

func TestServerNoEvictionFailsWrites(t *testing.T) {
	s := StartServer(t, Options{MaxMemory: "2mb", MaxMemoryPolicy: "noeviction"})
	const n = 4000
	replies := pipeline(t, s.Addr(), setCommands(n, true))
	oom := -1
	for i, r := range replies {
		if r == "+OK" {
			continue
		}
		if !strings.HasPrefix(r, "-OOM ") {
			t.Fatalf("SET #%d = %q, want +OK or an -OOM error", i, r)
		}
		if oom < 0 {
			oom = i
		}
	}
	if oom < 0 {
		t.Fatalf("all %d SETs of 1 KiB succeeded under maxmemory 2mb noeviction; want an OOM error", n)
	}
	t.Logf("first OOM at SET #%d: %s", oom, replies[oom])
	stats, err := command(s.Addr(), "INFO", "stats")
	if err != nil {
		t.Fatal(err)
	}
	if got := infoInt(t, stats, "evicted_keys"); got != 0 {
		t.Errorf("evicted_keys = %d under noeviction, want 0", got)
	}
}

// setCommands returns n SET commands of 1 KiB values, with a one-hour TTL
// when ttl is set.
func setCommands(n int, ttl bool) [][]string {
	value := strings.Repeat("x", 1024)
	cmds := make([][]string, n)
	for i := range cmds {
		cmds[i] = []string{"SET", "key:" + strconv.Itoa(i), value}
		if ttl {
			cmds[i] = append(cmds[i], "EX", "3600")
		}
	}
	return cmds
}

// pipeline sends cmds over one connection and returns each reply's first
// line ("+OK", "-OOM ..."); it is meant for commands with one-line replies.
func pipeline(t *testing.T, addr string, cmds [][]string) []string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	r := bufio.NewReader(c)
	var replies []string
	const batch = 200
	for start := 0; start < len(cmds); start += batch {
		end := min(start+batch, len(cmds))
		var req bytes.Buffer
		for _, args := range cmds[start:end] {
			fmt.Fprintf(&req, "*%d\r\n", len(args))
			for _, a := range args {
				fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
			}
		}
		if _, err := c.Write(req.Bytes()); err != nil {
			t.Fatal(err)
		}
		for range cmds[start:end] {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("reading reply %d: %v", len(replies), err)
			}
			replies = append(replies, strings.TrimRight(line, "\r\n"))
		}
	}
	return replies
}

// infoInt returns the integer field name of an INFO reply.
func infoInt(t *testing.T, info, name string) int {
	t.Helper()
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("INFO %s = %q", name, v)
			}
			return n
		}
	}
	t.Fatalf("INFO lacks %s:\n%s", name, info)
	return 0
}
