package batch

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestEveryCallerGetsItsOwnResult(t *testing.T) {
	var batches, biggest atomic.Int64
	b := New(func(_ context.Context, ops []int) []int {
		batches.Add(1)
		if n := int64(len(ops)); n > biggest.Load() {
			biggest.Store(n)
		}
		time.Sleep(time.Millisecond) // a commit
		out := make([]int, len(ops))
		for i, op := range ops {
			out[i] = op * 10
		}
		return out
	}, 16, time.Second)
	const callers = 200
	var wg sync.WaitGroup
	var wrong atomic.Int64
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := b.Do(context.Background(), i); err != nil || got != i*10 {
				wrong.Add(1)
			}
		}()
	}
	wg.Wait()
	if wrong.Load() != 0 {
		t.Fatalf("%d callers got another's result", wrong.Load())
	}
	if biggest.Load() > 16 {
		t.Fatalf("a batch of %d ops, want at most 16", biggest.Load())
	}
	if batches.Load() >= callers {
		t.Fatalf("%d batches for %d concurrent callers: nothing was combined", batches.Load(), callers)
	}
	t.Logf("%d callers in %d batches, the largest %d", callers, batches.Load(), biggest.Load())
}

func TestALoneCallRunsAtOnceAndInOrder(t *testing.T) {
	var seen []int
	b := New(func(_ context.Context, ops []int) []bool {
		seen = append(seen, ops...)
		return make([]bool, len(ops))
	}, 8, time.Second)
	for i := range 5 {
		if _, err := b.Do(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	for i, v := range seen {
		if v != i {
			t.Fatalf("ops ran as %v, want in call order", seen)
		}
	}
	if len(seen) != 5 {
		t.Fatalf("ran %d ops, want 5", len(seen))
	}
}

// A caller that stops waiting gets its context's error at once, the batch
// goes on for the others under the latest of their deadlines, and the
// combiner keeps working afterwards.
func TestACallerThatLeavesDoesNotStallTheOthers(t *testing.T) {
	release := make(chan struct{})
	var deadlines []time.Time
	var mu sync.Mutex
	b := New(func(ctx context.Context, ops []int) []int {
		d, _ := ctx.Deadline()
		mu.Lock()
		deadlines = append(deadlines, d)
		mu.Unlock()
		if ops[0] == 0 {
			<-release // the first batch is slow
		}
		return ops
	}, 4, time.Minute)

	first := make(chan error, 1)
	go func() { _, err := b.Do(context.Background(), 0); first <- err }()
	for {
		b.mu.Lock()
		busy := b.busy
		b.mu.Unlock()
		if busy {
			break
		}
		time.Sleep(time.Millisecond)
	}
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	long, cancelLong := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelLong()
	start := time.Now()
	if _, err := b.Do(short, 1); err != context.DeadlineExceeded {
		t.Fatalf("a caller past its deadline got %v, want DeadlineExceeded", err)
	}
	if waited := time.Since(start); waited > time.Second {
		t.Fatalf("the caller waited %v past its deadline", waited)
	}
	second := make(chan int, 1)
	go func() { v, _ := b.Do(long, 2); second <- v }()
	time.Sleep(10 * time.Millisecond)
	close(release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	select {
	case v := <-second:
		if v != 2 {
			t.Fatalf("got %d, want 2", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the batch handed to a caller that had left never ran")
	}
	mu.Lock()
	last := deadlines[len(deadlines)-1]
	mu.Unlock()
	if want, _ := long.Deadline(); !last.Equal(want) {
		t.Fatalf("the second batch's deadline is %v, want the latest caller's %v", last, want)
	}
	if v, err := b.Do(context.Background(), 3); err != nil || v != 3 {
		t.Fatalf("afterwards Do = %d, %v", v, err)
	}
}

// The caller whose op opens a batch is answered within its own deadline
// too, however long the batch takes; the batch still completes.
func TestTheFirstCallerKeepsItsOwnDeadline(t *testing.T) {
	release := make(chan struct{})
	ran := make(chan int, 1)
	b := New(func(ctx context.Context, ops []int) []int {
		<-release
		ran <- ops[0]
		return ops
	}, 4, time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	defer close(release)
	answered := make(chan error, 1)
	go func() { _, err := b.Do(ctx, 7); answered <- err }()
	select {
	case err := <-answered:
		if err != context.DeadlineExceeded {
			t.Fatalf("first caller got %v, want DeadlineExceeded", err)
		}
	case <-time.After(time.Second):
		t.Fatal("first caller still waiting a second past its 20ms deadline")
	}
	release <- struct{}{}
	select {
	case v := <-ran:
		if v != 7 {
			t.Fatalf("batch ran %d, want 7", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the batch of a caller that left never ran")
	}
}

// A caller without a deadline gives its batch the longest time allowed,
// even beside a caller in a hurry: its change must not be cut short by a
// stranger's deadline.
func TestACallerWithoutADeadlineWaitsAsLongAsAllowed(t *testing.T) {
	release := make(chan struct{})
	deadlines := make(chan time.Time, 4)
	b := New(func(ctx context.Context, ops []int) []int {
		d, _ := ctx.Deadline()
		deadlines <- d
		if ops[0] == 0 {
			<-release // holds the first batch, so the next two queue together
		}
		return ops
	}, 8, time.Hour)
	go b.Do(context.Background(), 0)
	<-deadlines
	hurry, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan struct{})
	go func() { b.Do(context.Background(), 1); close(done) }()
	time.Sleep(10 * time.Millisecond)
	go b.Do(hurry, 2)
	time.Sleep(10 * time.Millisecond)
	close(release)
	if d := <-deadlines; time.Until(d) < 50*time.Minute {
		t.Errorf("the batch of a patient and a hurried caller has %s, want about the hour allowed", time.Until(d).Round(time.Millisecond))
	}
	<-done
}

// Settle runs before a batch's callers have their results, and the next
// batch does not wait for it.
func TestSettleRunsBeforeTheAnswersAndBesideTheNextBatch(t *testing.T) {
	var settled atomic.Int64
	release := make(chan struct{})
	b := New(func(_ context.Context, ops []int) []int { return ops }, 8, time.Minute).
		Settle(func(_ context.Context, ops []int, _ []int) {
			if ops[0] == 0 {
				<-release // the first batch's settling is slow
			}
			settled.Add(int64(len(ops)))
		})
	first := make(chan int64, 1)
	go func() { b.Do(context.Background(), 0); first <- settled.Load() }()
	time.Sleep(20 * time.Millisecond)
	if _, err := b.Do(context.Background(), 1); err != nil { // runs while the first still settles
		t.Fatal(err)
	}
	select {
	case <-first:
		t.Fatal("the first caller was answered before its batch settled")
	default:
	}
	close(release)
	if n := <-first; n < 1 {
		t.Fatalf("the first caller was answered with %d settled", n)
	}
}
