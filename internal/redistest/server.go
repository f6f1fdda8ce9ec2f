package redistest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
)

// Options configures a server started by [StartServer]. The zero value is
// a server like [Start]'s: persistence off, no memory limit.
type Options struct {
	// AOF turns the append-only file on with appendfsync always, so that
	// every write the server acknowledged survives [Server.Kill] and is
	// loaded again by [Server.Restart].
	AOF bool

	// MaxMemory is the maxmemory setting, such as "2mb"; empty leaves
	// Redis's default (no limit).
	MaxMemory string

	// MaxMemoryPolicy is the maxmemory-policy setting, such as
	// "volatile-lru" or "noeviction"; empty leaves Redis's default
	// (noeviction).
	MaxMemoryPolicy string

	// Dir is the server's working directory, where the AOF and redis.log
	// are written. Empty means a fresh temporary directory, removed when
	// the test ends; a directory given here is left in place, so that a
	// later server started on it loads the same AOF.
	Dir string

	// Args are further redis-server arguments, appended last, such as
	// []string{"--maxclients", "20"}.
	Args []string
}

// Server is one redis-server started by [StartServer]. Its methods are
// safe for concurrent use.
type Server struct {
	bin  string
	port int
	dir  string
	args []string
	addr string

	mu     sync.Mutex
	proc   *process // nil while killed
	closed bool
}

// StartServer runs one redis-server configured by opts on a free 127.0.0.1
// port and waits until it answers PING. The server is stopped when the
// test ends ([Server.Close]). It skips the test when redis-server is
// missing, or fails it when CI=true.
func StartServer(t testing.TB, opts Options) *Server {
	t.Helper()
	bin := lookPath(t, "redis-server")
	dir := opts.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort(false)
		if err != nil {
			t.Fatalf("redistest: %v", err)
		}
		s := &Server{bin: bin, port: port, dir: dir}
		s.args = serverArgs(port, dir, opts)
		p, err := spawn(bin, port, dir, s.args)
		if err != nil {
			lastErr = err // most likely the port was taken meanwhile: try another
			continue
		}
		s.proc = p
		s.addr = p.addr
		t.Cleanup(s.Close)
		return s
	}
	t.Fatalf("redistest: %v", lastErr)
	return nil
}

// serverArgs are the redis-server arguments for opts.
func serverArgs(port int, dir string, opts Options) []string {
	args := baseArgs(port, dir)
	if opts.AOF {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if opts.MaxMemory != "" {
		args = append(args, "--maxmemory", opts.MaxMemory)
	}
	if opts.MaxMemoryPolicy != "" {
		args = append(args, "--maxmemory-policy", opts.MaxMemoryPolicy)
	}
	return append(args, opts.Args...)
}

// Addr returns the server's address, "127.0.0.1:port". It stays the same
// across [Server.Kill] and [Server.Restart].
func (s *Server) Addr() string { return s.addr }

// Dir returns the server's working directory (its AOF and redis.log).
func (s *Server) Dir() string { return s.dir }

// Kill ends the server with SIGKILL, as a crash would, and returns once
// the process has exited: clients' connections are cut and nothing is
// flushed beyond what the server had already written. Killing a server
// that is not running does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
}

// Restart starts the server again on the same port, directory and
// options — with AOF on, the data set is loaded from the AOF — and returns
// once it answers PING. A server still running is killed first (SIGKILL).
// It fails after [Server.Close], or when the server does not come back
// (the error includes the end of its log).
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("redistest: Restart after Close")
	}
	if s.proc != nil {
		s.proc.kill()
		s.proc = nil
	}
	p, err := spawn(s.bin, s.port, s.dir, s.args)
	if err != nil {
		return fmt.Errorf("redistest: restart: %w", err)
	}
	s.proc = p
	return nil
}

// Close stops the server for good (SIGTERM, then SIGKILL after five
// seconds) and waits for it to exit. It is called when the test ends;
// calling it again does nothing.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.proc != nil {
		s.proc.stop()
		s.proc = nil
	}
}
