package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// waitTimeout bounds every wait in these tests.
const waitTimeout = 10 * time.Second

// echoServer is a TCP server on 127.0.0.1 that writes back every chunk it
// reads and reports it on received.
type echoServer struct {
	ln       net.Listener
	received chan string
}

// startEcho runs an echo server until the test ends.
func startEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln, received: make(chan string, 100)}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						select {
						case e.received <- string(buf[:n]):
						default:
						}
						if _, err := c.Write(buf[:n]); err != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return e
}

// dial connects to addr; the connection is closed when the test ends.
func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, waitTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(waitTimeout))
	return c
}

// roundTrip writes msg and reads len(msg) bytes back.
func roundTrip(t *testing.T, c net.Conn, msg string) string {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write %q: %v", msg, err)
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatalf("read back %q: %v", msg, err)
	}
	return string(buf)
}

// readToEOF reads until the connection is closed, and fails the test if
// that does not happen in time.
func readToEOF(t *testing.T, c net.Conn) string {
	t.Helper()
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection still open after %s (read %q)", waitTimeout, b)
	}
	// A reset (ECONNRESET) is a close too.
	return string(b)
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// expectReceived waits for the echo server to receive msg.
func (e *echoServer) expectReceived(t *testing.T, msg string) {
	t.Helper()
	select {
	case got := <-e.received:
		if got != msg {
			t.Fatalf("echo server received %q, want %q", got, msg)
		}
	case <-time.After(waitTimeout):
		t.Fatalf("echo server did not receive %q", msg)
	}
}

func TestForwards(t *testing.T) {
	e := startEcho(t)
	p := Start(t, e.ln.Addr().String())
	if host, _, _ := net.SplitHostPort(p.Addr()); host != "127.0.0.1" {
		t.Errorf("Addr = %q, want 127.0.0.1", p.Addr())
	}
	if p.Target() != e.ln.Addr().String() {
		t.Errorf("Target = %q", p.Target())
	}
	c1, c2 := dial(t, p.Addr()), dial(t, p.Addr())
	for i := 0; i < 3; i++ {
		if got := roundTrip(t, c1, "one"); got != "one" {
			t.Errorf("c1 = %q", got)
		}
		if got := roundTrip(t, c2, "two"); got != "two" {
			t.Errorf("c2 = %q", got)
		}
	}
	big := string(bytes.Repeat([]byte("0123456789"), 20000)) // several chunks
	if got := roundTrip(t, c1, big); got != big {
		t.Errorf("200 kB round trip differs")
	}
	if s := p.Stats(); s.Connections != 2 || s.Injected() != 0 {
		t.Errorf("Stats = %+v, want 2 connections and no faults", s)
	}
}

func TestDelayNextReply(t *testing.T) {
	e := startEcho(t)
	p := Start(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	roundTrip(t, c, "warm")

	const d = 300 * time.Millisecond
	p.DelayNextReply(d)
	if s := p.Stats(); s.Pending != 1 {
		t.Fatalf("Pending = %d after DelayNextReply, want 1", s.Pending)
	}
	start := time.Now()
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reply to be held", func() bool { return p.Stats().Delayed == 1 })
	// Requests still reach the target while the reply is held; its reply
	// queues behind the held one.
	if _, err := c.Write([]byte("b")); err != nil {
		t.Fatal(err)
	}
	e.expectReceived(t, "warm")
	e.expectReceived(t, "a")
	e.expectReceived(t, "b")
	buf := make([]byte, 2)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < d {
		t.Errorf("reply after %s, want at least %s", elapsed, d)
	}
	if string(buf) != "ab" {
		t.Errorf("read %q, want \"ab\" in order", buf)
	}

	// The fault applied once: the next reply is not held.
	if got := roundTrip(t, c, "c"); got != "c" {
		t.Errorf("after the delay: %q", got)
	}
	if s := p.Stats(); s.Delayed != 1 || s.Pending != 0 || s.Injected() != 1 {
		t.Errorf("Stats = %+v, want one delay", s)
	}
}

func TestDelayAbandonedWhenClientCloses(t *testing.T) {
	e := startEcho(t)
	p := Start(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	p.DelayNextReply(time.Hour)
	if _, err := c.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the reply to be held", func() bool { return p.Stats().Delayed == 1 })
	c.Close()
	// The held reply is abandoned with its connection, not after an hour.
	waitFor(t, "the connection to be forgotten", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return len(p.conns) == 0
	})
	waitFor(t, "the proxy's connection goroutines to end", func() bool { return p.running.Load() == 1 }) // accept
}

func TestDropNextReply(t *testing.T) {
	e := startEcho(t)
	p := Start(t, e.ln.Addr().String())
	other := dial(t, p.Addr())
	roundTrip(t, other, "other")
	e.expectReceived(t, "other")

	c := dial(t, p.Addr())
	p.DropNextReply()
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	e.expectReceived(t, "x") // the request was served...
	if got := readToEOF(t, c); got != "" {
		t.Errorf("read %q, want the connection closed with nothing", got) // ...the reply never came
	}
	if s := p.Stats(); s.Dropped != 1 || s.Injected() != 1 {
		t.Errorf("Stats = %+v, want one drop", s)
	}
	// Other and new connections are unaffected.
	if got := roundTrip(t, other, "still"); got != "still" {
		t.Errorf("other connection: %q", got)
	}
	if got := roundTrip(t, dial(t, p.Addr()), "new"); got != "new" {
		t.Errorf("new connection: %q", got)
	}
}

func TestTruncateNextReply(t *testing.T) {
	e := startEcho(t)
	p := Start(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	p.TruncateNextReply(2)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got := readToEOF(t, c); got != "he" {
		t.Errorf("read %q, want \"he\" then the connection closed", got)
	}
	if s := p.Stats(); s.Truncated != 1 || s.Injected() != 1 {
		t.Errorf("Stats = %+v, want one truncation", s)
	}
}

func TestFaultsApplyInOrderAndDisarm(t *testing.T) {
	e := startEcho(t)
	p := Start(t, e.ln.Addr().String())
	p.DelayNextReply(time.Millisecond)
	p.DropNextReply()
	c := dial(t, p.Addr())
	if got := roundTrip(t, c, "1"); got != "1" { // delayed, then forwarded
		t.Errorf("first reply %q", got)
	}
	if _, err := c.Write([]byte("2")); err != nil {
		t.Fatal(err)
	}
	if got := readToEOF(t, c); got != "" { // dropped
		t.Errorf("second reply %q, want none", got)
	}

	p.DropNextReply()
	p.DropNextReply()
	if n := p.Disarm(); n != 2 {
		t.Errorf("Disarm = %d, want 2", n)
	}
	if got := roundTrip(t, dial(t, p.Addr()), "3"); got != "3" {
		t.Errorf("after Disarm: %q", got)
	}
	if s := p.Stats(); s.Delayed != 1 || s.Dropped != 1 || s.Pending != 0 {
		t.Errorf("Stats = %+v, want one delay, one drop, none pending", s)
	}
}

func TestRefuse(t *testing.T) {
	e := startEcho(t)
	p := Start(t, e.ln.Addr().String())
	existing := dial(t, p.Addr())
	roundTrip(t, existing, "up")

	p.Refuse(true)
	if got := readToEOF(t, existing); got != "" {
		t.Errorf("existing connection read %q, want it closed", got)
	}
	for i := 0; i < 2; i++ {
		c := dial(t, p.Addr()) // accepted...
		_, _ = c.Write([]byte("anyone?"))
		if got := readToEOF(t, c); got != "" { // ...and closed at once
			t.Errorf("refused connection read %q", got)
		}
	}
	if s := p.Stats(); s.Refused != 2 || s.Closed != 1 || s.Connections != 1 {
		t.Errorf("Stats = %+v, want 2 refused, 1 closed, 1 forwarded", s)
	}

	p.Refuse(false)
	if got := roundTrip(t, dial(t, p.Addr()), "back"); got != "back" {
		t.Errorf("after Refuse(false): %q", got)
	}
}

func TestCloseAll(t *testing.T) {
	e := startEcho(t)
	p := Start(t, e.ln.Addr().String())
	c1, c2 := dial(t, p.Addr()), dial(t, p.Addr())
	roundTrip(t, c1, "1")
	roundTrip(t, c2, "2")
	p.CloseAll()
	for _, c := range []net.Conn{c1, c2} {
		if got := readToEOF(t, c); got != "" {
			t.Errorf("read %q after CloseAll, want the connection closed", got)
		}
	}
	if got := roundTrip(t, dial(t, p.Addr()), "3"); got != "3" {
		t.Errorf("new connection after CloseAll: %q", got)
	}
	if s := p.Stats(); s.Closed != 2 || s.Connections != 3 || s.Injected() != 2 {
		t.Errorf("Stats = %+v, want 2 closed of 3", s)
	}
}

func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	ln.Close() // nothing listens there now
	p := Start(t, target)
	c := dial(t, p.Addr())
	if got := readToEOF(t, c); got != "" {
		t.Errorf("read %q, want the connection closed", got)
	}
	waitFor(t, "the failed dial to be counted", func() bool { return p.Stats().DialFailed == 1 })
}

func TestCleanup(t *testing.T) {
	e := startEcho(t)
	var p *Proxy
	var c net.Conn
	t.Run("proxy", func(t *testing.T) {
		p = Start(t, e.ln.Addr().String())
		c = dial(t, p.Addr())
		roundTrip(t, c, "x")
		p.DelayNextReply(time.Hour)
		if _, err := c.Write([]byte("held")); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the reply to be held", func() bool { return p.Stats().Delayed == 1 })
	})
	// The test's cleanup ended everything, a held reply included.
	if n := p.running.Load(); n != 0 {
		t.Errorf("%d proxy goroutines still running after the test ended", n)
	}
	if c2, err := net.DialTimeout("tcp", p.Addr(), time.Second); err == nil {
		c2.Close()
		t.Errorf("proxy at %s still accepts after the test ended", p.Addr())
	}
	p.Close() // idempotent
}
