// Package faultproxy is a TCP proxy for tests that injects network faults
// between a client and a server: a reply held back, a reply never
// delivered (the connection cut instead), a reply cut short, connections
// refused or closed. It reproduces, on demand and one at a time, what a
// slow or flaky network does to a Redis client or an HTTP client.
//
// A [Proxy] listens on 127.0.0.1 and forwards every connection it accepts
// to its target, bytes unchanged in both directions. A reply fault
// ([Proxy.DelayNextReply], [Proxy.DropNextReply],
// [Proxy.TruncateNextReply]) is armed for the next chunk of bytes that
// comes back from the target, on whichever connection it arrives: a chunk
// is what one read from the target's socket returns, which for a small
// Redis reply or HTTP response is the whole reply. Faults armed in a row
// apply to successive chunks, in order.
//
// A connection is closed as a whole when either side closes it or fails
// (there is no half-close). Every fault the proxy injects is counted in
// [Proxy.Stats], so that a test can wait for a fault to take effect and
// report how many it injected.
package faultproxy

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// dialTimeout bounds a connection to the target.
const dialTimeout = 5 * time.Second

// Stats counts what a [Proxy] did. Every count only grows.
type Stats struct {
	// Connections is the number of connections forwarded to the target.
	Connections int
	// Delayed is the number of reply chunks held back by DelayNextReply
	// (counted when the chunk arrives and its hold begins).
	Delayed int
	// Dropped is the number of reply chunks discarded, their connection
	// closed, by DropNextReply.
	Dropped int
	// Truncated is the number of reply chunks cut short, their connection
	// closed, by TruncateNextReply.
	Truncated int
	// Refused is the number of connections accepted and closed at once
	// because Refuse was on.
	Refused int
	// Closed is the number of forwarded connections closed by Refuse(true)
	// or CloseAll.
	Closed int
	// DialFailed is the number of connections closed because the target
	// could not be reached.
	DialFailed int
	// Pending is the number of reply faults armed and not yet applied.
	Pending int
}

// Injected returns the number of faults injected: replies delayed, dropped
// or truncated, and connections refused or closed.
func (s Stats) Injected() int {
	return s.Delayed + s.Dropped + s.Truncated + s.Refused + s.Closed
}

// faultKind is what a reply fault does to the chunk it applies to.
type faultKind int

const (
	faultDelay faultKind = iota
	faultDrop
	faultTruncate
)

// fault is one armed reply fault.
type fault struct {
	kind  faultKind
	delay time.Duration // faultDelay
	keep  int           // faultTruncate: bytes forwarded before the cut
}

// Proxy is a fault-injecting TCP proxy started by [Start]. Its methods are
// safe for concurrent use.
type Proxy struct {
	target string
	ln     net.Listener
	ctx    context.Context // canceled by Close: ends dials and held replies
	cancel context.CancelFunc

	wg      sync.WaitGroup
	running atomic.Int32 // goroutines alive, for the package's tests

	mu       sync.Mutex
	conns    map[*pair]struct{}
	faults   []fault
	refusing bool
	closed   bool
	stats    Stats
}

// pair is one client connection and its connection to the target.
type pair struct {
	client, upstream net.Conn
	once             sync.Once
	done             chan struct{} // closed by close
}

// close closes both connections; it may be called more than once.
func (c *pair) close() {
	c.once.Do(func() {
		close(c.done)
		c.client.Close()
		c.upstream.Close()
	})
}

// Start runs a proxy on a free 127.0.0.1 port that forwards every
// connection to target ("host:port"). The proxy and every connection
// through it are closed, and its goroutines have ended, when the test
// ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faultproxy: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target: target,
		ln:     ln,
		ctx:    ctx,
		cancel: cancel,
		conns:  make(map[*pair]struct{}),
	}
	p.goroutine(p.accept)
	t.Cleanup(p.Close)
	return p
}

// Addr returns the address clients connect to, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target returns the address connections are forwarded to.
func (p *Proxy) Target() string { return p.target }

// DelayNextReply holds the next chunk of bytes that comes back from the
// target, on any connection, for d before forwarding it; later bytes on
// that connection queue behind it, while requests still flow to the
// target. Against Redis this is a late reply: the command has executed,
// and a client whose read timeout is shorter than d gives up (and, like
// go-redis by default, retries the command on a new connection).
func (p *Proxy) DelayNextReply(d time.Duration) {
	p.arm(fault{kind: faultDelay, delay: d})
}

// DropNextReply discards the next chunk of bytes that comes back from the
// target, on any connection, and closes that connection instead of
// forwarding it: the server did the work, the client never learns the
// outcome.
func (p *Proxy) DropNextReply() {
	p.arm(fault{kind: faultDrop})
}

// TruncateNextReply forwards only the first n bytes of the next chunk that
// comes back from the target, on any connection, then closes that
// connection: a connection lost in the middle of a reply.
func (p *Proxy) TruncateNextReply(n int) {
	p.arm(fault{kind: faultTruncate, keep: max(n, 0)})
}

// Disarm removes the reply faults armed and not yet applied, and returns
// how many there were.
func (p *Proxy) Disarm() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.faults)
	p.faults = nil
	p.stats.Pending = 0
	return n
}

// Refuse turns refusal on or off. While it is on, every new connection is
// accepted and closed at once, without reaching the target; turning it on
// also closes every current connection. The target itself keeps running:
// to its clients it is down.
func (p *Proxy) Refuse(on bool) {
	p.mu.Lock()
	p.refusing = on
	var closing []*pair
	if on {
		closing = p.takeConnsLocked()
	}
	p.mu.Unlock()
	for _, c := range closing {
		c.close()
	}
}

// CloseAll closes every current connection, both to the client and to
// the target. New connections are forwarded as before.
func (p *Proxy) CloseAll() {
	p.mu.Lock()
	closing := p.takeConnsLocked()
	p.mu.Unlock()
	for _, c := range closing {
		c.close()
	}
}

// Stats returns what the proxy has done so far.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Close stops the proxy: it stops listening, closes every connection,
// abandons held replies and waits for its goroutines to end. It is called
// when the test ends; calling it again does nothing.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return
	}
	p.closed = true
	conns := make([]*pair, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.conns = map[*pair]struct{}{}
	p.mu.Unlock()

	p.cancel()
	p.ln.Close()
	for _, c := range conns {
		c.close()
	}
	p.wg.Wait()
}

// arm queues a reply fault.
func (p *Proxy) arm(f fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = append(p.faults, f)
	p.stats.Pending = len(p.faults)
}

// takeFault removes the next armed fault and counts it as injected.
func (p *Proxy) takeFault() (fault, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.faults) == 0 {
		return fault{}, false
	}
	f := p.faults[0]
	p.faults = p.faults[1:]
	p.stats.Pending = len(p.faults)
	switch f.kind {
	case faultDelay:
		p.stats.Delayed++
	case faultDrop:
		p.stats.Dropped++
	case faultTruncate:
		p.stats.Truncated++
	}
	return f, true
}

// takeConnsLocked forgets every current connection, counts them as closed
// and returns them for the caller to close outside the lock.
func (p *Proxy) takeConnsLocked() []*pair {
	conns := make([]*pair, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.conns = make(map[*pair]struct{})
	p.stats.Closed += len(conns)
	return conns
}

// goroutine runs f in a goroutine that Close waits for. It must be called
// by Start or by a goroutine that Close waits for, so that the wait group
// never grows from zero while Close waits.
func (p *Proxy) goroutine(f func()) {
	p.wg.Add(1)
	p.running.Add(1)
	go func() {
		defer p.wg.Done()
		defer p.running.Add(-1)
		f()
	}()
}

// accept accepts connections until the listener is closed.
func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// A transient failure (such as too many open files): back off
			// a little, as net/http does, rather than spin.
			select {
			case <-p.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		p.goroutine(func() { p.serve(c) })
	}
}

// serve forwards one client connection to the target, requests in this
// goroutine and replies in another.
func (p *Proxy) serve(client net.Conn) {
	p.mu.Lock()
	refuse := p.refusing || p.closed
	if p.refusing {
		p.stats.Refused++
	}
	p.mu.Unlock()
	if refuse {
		client.Close()
		return
	}

	d := net.Dialer{Timeout: dialTimeout}
	upstream, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		p.mu.Lock()
		p.stats.DialFailed++
		p.mu.Unlock()
		client.Close()
		return
	}
	c := &pair{client: client, upstream: upstream, done: make(chan struct{})}

	p.mu.Lock()
	// Refusal (or Close) may have begun while dialing.
	refuse = p.refusing || p.closed
	if p.refusing {
		p.stats.Refused++
	}
	if !refuse {
		p.conns[c] = struct{}{}
		p.stats.Connections++
	}
	p.mu.Unlock()
	if refuse {
		c.close()
		return
	}

	p.goroutine(func() { p.replies(c) })
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if n > 0 {
			if _, werr := upstream.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	p.forget(c)
}

// replies forwards what the target sends back, applying armed faults.
func (p *Proxy) replies(c *pair) {
	defer p.forget(c)
	buf := make([]byte, 32<<10)
	for {
		n, err := c.upstream.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if f, ok := p.takeFault(); ok {
				switch f.kind {
				case faultDelay:
					t := time.NewTimer(f.delay)
					select {
					case <-t.C:
					case <-c.done:
						t.Stop()
						return
					}
				case faultDrop:
					return
				case faultTruncate:
					_, _ = c.client.Write(chunk[:min(f.keep, n)])
					return
				}
			}
			if _, werr := c.client.Write(chunk); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// forget closes a connection pair and removes it from the current set.
func (p *Proxy) forget(c *pair) {
	c.close()
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}
