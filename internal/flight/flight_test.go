package flight

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

func TestDoSharesOneCall(t *testing.T) { synctest.Test(t, testDoSharesOneCall) }

func testDoSharesOneCall(t *testing.T) {
	var g Group[int]
	var calls atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	results := make(chan int, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := g.Do(context.Background(), "k", func() (int, error) {
				calls.Add(1)
				<-release
				return 42, nil
			})
			if err != nil {
				t.Error(err)
			}
			results <- v
		}()
	}
	synctest.Wait() // every goroutine has joined the call
	close(release)
	wg.Wait()
	close(results)
	if n := calls.Load(); n != 1 {
		t.Fatalf("fn ran %d times, want 1", n)
	}
	for v := range results {
		if v != 42 {
			t.Fatalf("result %d", v)
		}
	}
}

func TestWaiterContext(t *testing.T) { synctest.Test(t, testWaiterContext) }

func testWaiterContext(t *testing.T) {
	var g Group[int]
	release := make(chan struct{})
	done := make(chan struct{})
	go func() {
		v, err := g.Do(context.Background(), "k", func() (int, error) { <-release; return 1, nil })
		if err != nil || v != 1 {
			t.Errorf("first caller: %d, %v", v, err)
		}
		close(done)
	}()
	synctest.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Do(ctx, "k", func() (int, error) { return 2, nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: err=%v", err)
	}
	close(release)
	<-done
	// The key is free again: a new call runs.
	if v, _ := g.Do(context.Background(), "k", func() (int, error) { return 3, nil }); v != 3 {
		t.Fatalf("new call: %d", v)
	}
}

func TestPanicIsAnError(t *testing.T) {
	var g Group[int]
	const key = "secret-session-id"
	_, err := g.Do(context.Background(), key, func() (int, error) { panic("boom") })
	var pe *PanicError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a *PanicError", err)
	}
	if pe.Value != "boom" || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panic value lost: %v", err)
	}
	// The stack shows where it panicked: in this test's function.
	if !strings.Contains(string(pe.Stack), "TestPanicIsAnError") || !strings.Contains(err.Error(), "TestPanicIsAnError") {
		t.Fatalf("no stack in the error: %q", err)
	}
	// The key may be a credential: it is not in the error.
	if strings.Contains(err.Error(), key) {
		t.Fatalf("the error names the key: %q", err)
	}
	if v, err := g.Do(context.Background(), key, func() (int, error) { return 1, nil }); v != 1 || err != nil {
		t.Fatalf("after a panic: %d, %v", v, err)
	}
}
