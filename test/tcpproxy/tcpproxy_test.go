package tcpproxy

import (
	"bufio"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// startEcho runs a line echo server for the test's lifetime.
func startEcho(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer func() {
					if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
						t.Logf("echo close: %v", err)
					}
				}()
				if _, err := io.Copy(c, c); err != nil {
					t.Logf("echo copy: %v", err)
				}
			})
		}
	})
	t.Cleanup(func() {
		if err := ln.Close(); err != nil {
			t.Errorf("close echo listener: %v", err)
		}
		wg.Wait()
	})
	return ln.Addr().String()
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() {
		if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			t.Errorf("close client: %v", err)
		}
	})
	if err := c.SetDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatalf("set deadline: %v", err)
	}
	return c
}

// roundTrip sends a line and returns the echoed line or the read error.
func roundTrip(c net.Conn, line string) (string, error) {
	if _, err := io.WriteString(c, line+"\n"); err != nil {
		return "", err
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	return got[:len(got)-1], nil
}

func TestProxyCutRestore(t *testing.T) {
	p := Start(t, startEcho(t))
	addr := p.Addr()

	before := dial(t, addr)
	if got, err := roundTrip(before, "hello"); err != nil || got != "hello" {
		t.Fatalf("before cut: got %q, %v; want %q, nil", got, err, "hello")
	}

	p.Cut()
	if got, err := roundTrip(before, "again"); err == nil {
		t.Fatalf("live connection after cut: got %q, nil; want an error", got)
	}
	during := dial(t, addr)
	if got, err := roundTrip(during, "refused"); err == nil {
		t.Fatalf("new connection while cut: got %q, nil; want an error", got)
	}

	p.Restore()
	if got := p.Addr(); got != addr {
		t.Fatalf("address after restore: got %s, want %s", got, addr)
	}
	after := dial(t, addr)
	if got, err := roundTrip(after, "back"); err != nil || got != "back" {
		t.Fatalf("after restore: got %q, %v; want %q, nil", got, err, "back")
	}

	p.Close()
	p.Close()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		if cerr := c.Close(); cerr != nil {
			t.Errorf("close: %v", cerr)
		}
		t.Fatalf("dial after close succeeded, want an error")
	}
}

// A delayed link holds each chunk both ways: a round trip takes at least
// twice the delay, and full speed again after Restore.
func TestDelay(t *testing.T) {
	p := Start(t, startEcho(t))
	c := dial(t, p.Addr())
	p.Delay(100 * time.Millisecond)
	began := time.Now()
	if got, err := roundTrip(c, "slow"); err != nil || got != "slow" {
		t.Fatalf("delayed: got %q, %v", got, err)
	}
	if took := time.Since(began); took < 200*time.Millisecond {
		t.Errorf("a round trip on a 100ms link took %s, want at least 200ms", took)
	}
	p.Restore()
	began = time.Now()
	if got, err := roundTrip(c, "fast"); err != nil || got != "fast" {
		t.Fatalf("restored: got %q, %v", got, err)
	}
	if took := time.Since(began); took >= 200*time.Millisecond {
		t.Errorf("a round trip after Restore took %s", took)
	}
}
