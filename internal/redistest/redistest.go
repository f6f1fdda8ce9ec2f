// Package redistest starts throwaway redis-server processes on loopback for
// tests: one server ([Start]) or a three-master Redis Cluster
// ([StartCluster]). Each server runs in a temporary directory with
// persistence off, on a free port, and is stopped by t.Cleanup.
//
// For fault-injection tests, [StartServer] runs one server with options
// (AOF, maxmemory and its eviction policy, a chosen directory) and returns
// a [Server] that can be killed with SIGKILL and restarted on the same port
// and directory, so that what it had persisted (AOF) is loaded again.
//
// When redis-server (or, for a cluster, redis-cli) is not installed, the
// test is skipped — unless the environment variable CI is "true", where a
// missing binary fails the test instead, so that CI never passes by
// skipping. .ci/run installs the Debian packages redis-server and
// redis-tools when they are missing.
//
// The package speaks just enough RESP to wait for a server to be ready; it
// imports no Redis client, so that only session/redisstore depends on
// go-redis.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a server (or a cluster) may take to accept
// commands.
const startTimeout = 20 * time.Second

// Start runs one redis-server on a free 127.0.0.1 port and returns its
// address ("127.0.0.1:port"). The server is stopped when the test ends. It
// skips the test when redis-server is missing, or fails it when CI=true.
func Start(t testing.TB) (addr string) {
	t.Helper()
	return StartServer(t, Options{}).Addr()
}

// StartCluster runs a Redis Cluster of three masters (no replicas) on free
// 127.0.0.1 ports, joined with redis-cli --cluster create, and returns the
// masters' addresses once CLUSTER INFO reports cluster_state:ok on each of
// them. Every node is stopped when the test ends. It skips the test when
// redis-server or redis-cli is missing, or fails it when CI=true.
func StartCluster(t testing.TB) (addrs []string) {
	t.Helper()
	bin := lookPath(t, "redis-server")
	cli := lookPath(t, "redis-cli")
	for len(addrs) < 3 {
		var lastErr error
		ok := false
		for attempt := 0; attempt < 5 && !ok; attempt++ {
			// The cluster bus listens on port+10000, so both must be free.
			port, err := freePort(true)
			if err != nil {
				t.Fatalf("redistest: %v", err)
			}
			addr, err := startServer(t, bin, port, []string{
				"--cluster-enabled", "yes",
				"--cluster-config-file", "nodes.conf",
				"--cluster-node-timeout", "5000",
			})
			if err != nil {
				lastErr = err
				continue
			}
			addrs = append(addrs, addr)
			ok = true
		}
		if !ok {
			t.Fatalf("redistest: cluster node: %v", lastErr)
		}
	}

	args := append([]string{"--cluster", "create"}, addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command(cli, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redistest: redis-cli --cluster create: %v\n%s", err, out)
	}

	deadline := time.Now().Add(startTimeout)
	for _, addr := range addrs {
		for {
			info, err := command(addr, "CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: cluster at %s not ready after %s: %v\n%s", addr, startTimeout, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addrs
}

// lookPath finds a binary, or skips (fails under CI=true) the test.
func lookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not installed (Debian: apt-get install redis-server redis-tools): %v", name, err)
	if os.Getenv("CI") == "true" {
		t.Fatalf("redistest: %s; CI=true requires it", msg)
	}
	t.Skip("redistest: " + msg)
	return ""
}

// freePort returns a port that was free on 127.0.0.1 a moment ago; with
// bus, port+10000 was free too (Redis Cluster's bus port).
func freePort(bus bool) (int, error) {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !bus {
			l.Close()
			return port, nil
		}
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		l.Close()
		if err != nil {
			continue
		}
		l2.Close()
		return port, nil
	}
	return 0, errors.New("no free port pair for a cluster node")
}

// startServer runs redis-server on port in a fresh temporary directory and
// waits until it answers PING. On success it registers the cleanup that
// stops it; on failure the process is already gone.
func startServer(t testing.TB, bin string, port int, extra []string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	args := append(baseArgs(port, dir), "--appendonly", "no")
	p, err := spawn(bin, port, dir, append(args, extra...))
	if err != nil {
		return "", err
	}
	t.Cleanup(func() { p.stop() })
	return p.addr, nil
}

// baseArgs are the arguments every server gets: loopback only, the given
// port and directory, no RDB snapshots, in the foreground, logging to
// redis.log in dir.
func baseArgs(port int, dir string) []string {
	return []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--save", "",
		"--daemonize", "no",
		"--logfile", filepath.Join(dir, "redis.log"),
	}
}

// process is one running redis-server.
type process struct {
	cmd    *exec.Cmd
	addr   string
	exited chan struct{} // closed when the process has exited
}

// spawn starts redis-server with args (which must name port and dir) and
// waits until it answers PING. On failure the process is already gone.
func spawn(bin string, port int, dir string, args []string) (*process, error) {
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	p := &process{
		cmd:    cmd,
		addr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		exited: make(chan struct{}),
	}
	var werr error
	go func() {
		werr = cmd.Wait()
		close(p.exited)
	}()
	logPath := filepath.Join(dir, "redis.log")

	deadline := time.Now().Add(startTimeout)
	for {
		// Ask for the process id rather than PING alone: a server that
		// answers could be another process that took the port first. PING
		// then tells that the data set (AOF) is loaded: while loading,
		// Redis answers -LOADING.
		info, err := command(p.addr, "INFO", "server")
		if err == nil && !strings.Contains(info, "\r\nprocess_id:"+strconv.Itoa(cmd.Process.Pid)+"\r\n") {
			err = errors.New("another process answers on this port")
		}
		if err == nil {
			var pong string
			pong, err = command(p.addr, "PING")
			if err == nil && pong == "PONG" {
				return p, nil
			}
			if err == nil {
				err = fmt.Errorf("PING answered %q", pong)
			}
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("redis-server on port %d exited (%v): %s", port, werr, tail(logPath))
		default:
		}
		if time.Now().After(deadline) {
			p.stop()
			return nil, fmt.Errorf("redis-server on port %d not ready after %s (%v): %s", port, startTimeout, err, tail(logPath))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the process gracefully (SIGTERM), or with SIGKILL when it has
// not exited after five seconds, and waits for it to exit.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(5 * time.Second):
		p.kill()
	}
}

// kill ends the process with SIGKILL and waits for it to exit.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// tail returns the end of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log)"
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(bytes.TrimSpace(b))
}

// command sends one command over a fresh connection and returns a simple
// string, an integer or a bulk string reply as text.
func command(addr string, args ...string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	var req bytes.Buffer
	fmt.Fprintf(&req, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&req, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write(req.Bytes()); err != nil {
		return "", err
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", errors.New(line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil || n < 0 {
			return "", fmt.Errorf("bad bulk reply %q", line)
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	default:
		return "", fmt.Errorf("unexpected reply %q", line)
	}
}
