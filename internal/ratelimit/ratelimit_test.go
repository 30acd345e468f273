package ratelimit

import (
	"fmt"
	"testing"
	"time"

	"github.com/recert/recert/internal/clock"
)

var t0 = time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC)

func TestBucketRefillsWithTheClock(t *testing.T) {
	clk := clock.NewSettable(t0)
	l := New(2, 3, 0, clk) // 2 a second, burst 3
	for i := 0; i < 3; i++ {
		if ok, _ := l.Allow("k", 1); !ok {
			t.Fatalf("request %d: refused, want the burst of 3 allowed", i+1)
		}
	}
	ok, retryAt := l.Allow("k", 1)
	if ok || !retryAt.Equal(t0.Add(time.Second)) {
		t.Fatalf("4th: got %v retryAt %v, want refused until %v (0.5s rounded up)", ok, retryAt, t0.Add(time.Second))
	}
	if ok, _ := l.Allow("other", 1); !ok {
		t.Fatal("another key shares the bucket")
	}
	clk.Advance(500 * time.Millisecond)
	if ok, _ := l.Allow("k", 1); !ok {
		t.Fatal("after 0.5s: refused, want one token back")
	}
	if ok, _ := l.Allow("k", 1); ok {
		t.Fatal("after 0.5s: second request allowed, want one token only")
	}
}

func TestAllowNIsAllOrNothing(t *testing.T) {
	clk := clock.NewSettable(t0)
	l := New(1, 5, 0, clk)
	if ok, _ := l.Allow("k", 4); !ok {
		t.Fatal("4 of 5: refused")
	}
	if ok, _ := l.Allow("k", 2); ok {
		t.Fatal("2 more with 1 left: allowed")
	}
	if ok, _ := l.Allow("k", 1); !ok {
		t.Fatal("the refused request took tokens")
	}
	if ok, at := l.Allow("k", 6); ok || at.Before(t0.Add(5*time.Second)) {
		t.Fatalf("more than the burst: got %v %v, want refused for a whole refill", ok, at)
	}
}

func TestMemoryIsBounded(t *testing.T) {
	clk := clock.NewSettable(t0)
	l := New(1, 1, 100, clk)
	for i := 0; i < 10_000; i++ {
		l.Allow(fmt.Sprintf("ip:%d", i), 1)
	}
	if n := l.Len(); n != 100 {
		t.Fatalf("got %d buckets, want 100 at most", n)
	}
	// The most recently used key was kept with its empty bucket; the oldest one starts afresh.
	if ok, _ := l.Allow("ip:9999", 1); ok {
		t.Fatal("recent key lost its bucket")
	}
	if ok, _ := l.Allow("ip:0", 1); !ok {
		t.Fatal("evicted idle key refused")
	}
}

func TestExhaustedPeeksWithoutTaking(t *testing.T) {
	clk := clock.NewSettable(t0)
	l := New(0.5, 2, 0, clk) // one token every 2 seconds
	if ex, _ := l.Exhausted("k"); ex {
		t.Fatal("unknown key: exhausted, want a full bucket")
	}
	l.Allow("k", 1)
	if ex, _ := l.Exhausted("k"); ex {
		t.Fatal("one token left: exhausted")
	}
	if ex, _ := l.Exhausted("k"); ex {
		t.Fatal("peeking took a token")
	}
	l.Allow("k", 1)
	ex, at := l.Exhausted("k")
	if !ex || !at.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("empty bucket: got %v until %v, want exhausted until %v", ex, at, t0.Add(2*time.Second))
	}
	clk.Advance(2 * time.Second)
	if ex, _ := l.Exhausted("k"); ex {
		t.Fatal("after a refill: still exhausted")
	}
}
