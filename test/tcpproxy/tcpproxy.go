// Package tcpproxy is a small TCP forwarder for fault tests: put it between
// the code under test and a real service, then cut and restore the link.
package tcpproxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

const dialTimeout = 5 * time.Second

// Proxy forwards every connection accepted on Addr to the target.
type Proxy struct {
	t      testing.TB
	target string
	ln     net.Listener

	mu     sync.Mutex
	cut    bool
	closed bool
	conns  map[net.Conn]struct{}

	wg sync.WaitGroup
}

// Start listens on 127.0.0.1:0 and forwards to target until the test ends.
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

// Addr is the host:port clients should dial instead of the target.
func (p *Proxy) Addr() string {
	return p.ln.Addr().String()
}

// Cut closes every live connection and rejects new ones until Restore. The
// listener stays open, so the address never changes; a client that connects
// while cut is closed at once, which it sees as a failed handshake.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.closeAllLocked()
}

// Restore accepts and forwards again on the same address.
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
}

// Close stops the proxy and waits for its goroutines. It is safe to call more
// than once and is called by Start's cleanup.
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
			p.t.Logf("tcpproxy: accept: %v", err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		if !p.track(c) {
			p.closeConn(c)
			continue
		}
		p.wg.Go(func() { p.forward(c) })
	}
}

// track registers a live connection; false means the proxy is cut or closed
// and the connection must be dropped.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut || p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
}

func (p *Proxy) forward(client net.Conn) {
	defer p.untrack(client)
	defer p.closeConn(client)
	upstream, err := net.DialTimeout("tcp", p.target, dialTimeout)
	if err != nil {
		p.t.Logf("tcpproxy: dial %s: %v", p.target, err)
		return
	}
	if !p.track(upstream) {
		p.closeConn(upstream)
		return
	}
	defer p.untrack(upstream)

	// When either direction ends, both sockets are closed so the other copy
	// returns too; a cut therefore looks like a dead peer to both sides.
	var once sync.Once
	stop := func() {
		once.Do(func() {
			p.closeConn(client)
			p.closeConn(upstream)
		})
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer stop()
		p.copy(upstream, client)
	})
	wg.Go(func() {
		defer stop()
		p.copy(client, upstream)
	})
	wg.Wait()
}

func (p *Proxy) copy(dst, src net.Conn) {
	if _, err := io.Copy(dst, src); err != nil && !expectedEnd(err) {
		p.t.Logf("tcpproxy: copy: %v", err)
	}
}

func (p *Proxy) closeAllLocked() {
	for c := range p.conns {
		p.closeConn(c)
		delete(p.conns, c)
	}
}

func (p *Proxy) closeConn(c net.Conn) {
	if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
		p.t.Logf("tcpproxy: close: %v", err)
	}
}

// expectedEnd reports errors that only mean the link was cut or closed.
func expectedEnd(err error) bool {
	if errors.Is(err, net.ErrClosed) || errors.Is(err, io.EOF) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr)
}
