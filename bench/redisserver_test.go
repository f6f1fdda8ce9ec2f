package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// The benchmarks' redis-server: one per process, started on first use on
// a free loopback port (persistence off), stopped by TestMain. rpkit's
// internal/redistest does the same for rpkit's tests, but a nested module
// cannot import rpkit's internal packages.
var redisServer struct {
	once sync.Once
	cmd  *exec.Cmd
	addr string
	dir  string
	err  error
}

// redisClient returns a client of the benchmarks' redis-server, flushed.
// Without redis-server in PATH it skips the benchmark, or fails it when
// CI=true.
func redisClient(b *testing.B) *redis.Client {
	b.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			b.Fatal("redis-server is not in PATH (install Debian's redis-server)")
		}
		b.Skip("redis-server is not in PATH: install redis-server (Debian's package) to run the Redis rows")
	}
	redisServer.once.Do(func() { redisServer.addr, redisServer.dir, redisServer.cmd, redisServer.err = startRedis(bin) })
	if redisServer.err != nil {
		b.Fatal(redisServer.err)
	}
	c := redis.NewClient(&redis.Options{Addr: redisServer.addr})
	b.Cleanup(func() { c.Close() })
	if err := c.FlushAll(context.Background()).Err(); err != nil {
		b.Fatal(err)
	}
	return c
}

// startRedis runs redis-server on a free 127.0.0.1 port and waits until
// it answers PING.
func startRedis(bin string) (addr, dir string, cmd *exec.Cmd, err error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", "", nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		dir, err := os.MkdirTemp("", "rpkit-bench-redis-")
		if err != nil {
			return "", "", nil, err
		}
		cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "")
		if err := cmd.Start(); err != nil {
			os.RemoveAll(dir)
			return "", "", nil, fmt.Errorf("starting redis-server: %w", err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		if lastErr = waitPing(addr, 5*time.Second); lastErr == nil {
			return addr, dir, cmd, nil
		}
		cmd.Process.Kill() // most likely the port was taken meanwhile: try another
		cmd.Wait()
		os.RemoveAll(dir)
	}
	return "", "", nil, fmt.Errorf("redis-server did not answer PING: %w", lastErr)
}

func waitPing(addr string, timeout time.Duration) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(timeout)
	for {
		err := c.Ping(context.Background()).Err()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stopRedis kills the benchmarks' redis-server, if one was started.
func stopRedis() {
	if cmd := redisServer.cmd; cmd != nil {
		cmd.Process.Kill()
		cmd.Wait()
		os.RemoveAll(redisServer.dir)
	}
}
