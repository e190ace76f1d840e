// Package tcpproxy is a small TCP forwarder for fault tests: put it between
// the code under test and a real service, then cut the link, black-hole it,
// slow it down or restore it.
package tcpproxy

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

const dialTimeout = 5 * time.Second

// mode is what a Proxy does with traffic.
type mode int

const (
	passing mode = iota
	cut          // live connections closed, new ones closed at once
	holed        // connections stay open, nothing passes either way
)

// Proxy forwards TCP to a target and fails in the two ways a network
// does: a cut, which the peers see at once (connections closed, new ones
// refused), and a black hole, which they do not: connections are accepted
// and stay open, but every byte is dropped, like a partition or a peer
// whose machine froze. Only time-outs get a client out of a black hole.
type Proxy struct {
	t      testing.TB
	target string
	ln     net.Listener

	mu     sync.Mutex
	mode   mode
	delay  time.Duration // added to every chunk forwarded while passing
	closed bool
	conns  map[net.Conn]struct{}

	wg sync.WaitGroup
}

// Start listens on 127.0.0.1:0 until the test ends.
func Start(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("tcpproxy: listen: %v", err)
	}
	p := &Proxy{t: t, target: target, ln: ln, conns: make(map[net.Conn]struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(p.Close)
	return p
}

// Addr is the address to dial instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut closes every connection and refuses new ones until Restore.
func (p *Proxy) Cut() { p.set(cut) }

// Blackhole keeps every connection open and accepts new ones, but drops
// all traffic until Restore.
func (p *Proxy) Blackhole() { p.set(holed) }

// Delay holds every chunk of bytes for d before passing it on, each way,
// until Restore: a slow link, on which every round trip takes 2d more.
func (p *Proxy) Delay(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay = d
}

// Restore forwards again, at full speed. Connections that lived through a
// black hole have lost bytes and cannot be trusted, so they are closed, as
// the peers' retransmission time-outs would eventually do.
func (p *Proxy) Restore() { p.set(passing) }

func (p *Proxy) set(m mode) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if m == cut || (m == passing && p.mode == holed) {
		p.closeAllLocked()
	}
	p.mode = m
	p.delay = 0
}

func (p *Proxy) current() (mode, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode, p.delay
}

// Close stops the proxy and waits for its goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.closeAllLocked()
	p.mu.Unlock()
	if err := p.ln.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		p.t.Logf("tcpproxy: close listener: %v", err)
	}
	p.wg.Wait()
}

func (p *Proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		m, tracked := p.track(c)
		switch {
		case !tracked || m == cut:
			c.Close()
		case m == holed:
			p.wg.Go(func() { p.swallow(c) })
		default:
			p.wg.Go(func() { p.forward(c) })
		}
	}
}

// track registers c and returns the mode it arrived in; false when the
// proxy is closed.
func (p *Proxy) track(c net.Conn) (mode, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return p.mode, false
	}
	if p.mode != cut {
		p.conns[c] = struct{}{}
	}
	return p.mode, true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

// swallow reads and drops everything c sends until it is closed.
func (p *Proxy) swallow(c net.Conn) {
	defer p.untrack(c)
	defer c.Close()
	buf := make([]byte, 32<<10)
	for {
		if _, err := c.Read(buf); err != nil {
			return
		}
	}
}

func (p *Proxy) forward(client net.Conn) {
	defer p.untrack(client)
	defer client.Close()
	upstream, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil {
		p.t.Logf("tcpproxy: dial %s: %v", p.target, err)
		return
	}
	if m, ok := p.track(upstream); !ok || m == cut {
		upstream.Close()
		return
	}
	defer p.untrack(upstream)
	var once sync.Once
	stop := func() {
		once.Do(func() {
			client.Close()
			upstream.Close()
		})
	}
	var wg sync.WaitGroup
	wg.Go(func() { defer stop(); p.pump(upstream, client) })
	wg.Go(func() { defer stop(); p.pump(client, upstream) })
	wg.Wait()
}

// pump copies src to dst, dropping what arrives while the proxy is a
// black hole; reading on keeps the sender from noticing.
func (p *Proxy) pump(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if m, delay := p.current(); n > 0 && m != holed {
			time.Sleep(delay)
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *Proxy) closeAllLocked() {
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}
