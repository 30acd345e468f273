// Package ratelimit keeps token buckets by key (a principal, an IP address) in bounded memory,
// reading time from an injected clock so tests move the clock instead of sleeping.
package ratelimit

import (
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"

	"github.com/recert/recert/internal/clock"
)

// DefaultMaxKeys bounds the buckets kept when New is given no bound.
const DefaultMaxKeys = 100_000

// Limiter hands out tokens per key: Rate per second, up to Burst at once. It keeps at most
// MaxKeys buckets, evicting the least recently used (idle) one first; an evicted key starts
// again with a full bucket, which is what an idle key would have anyway. Safe for concurrent use.
type Limiter struct {
	limit rate.Limit
	burst int
	clock clock.Clock
	mu    sync.Mutex
	keys  *lru.LRU[string, *rate.Limiter]
}

// New returns a Limiter of perSecond tokens a second with the given burst, keeping at most
// maxKeys buckets (DefaultMaxKeys when maxKeys <= 0).
func New(perSecond float64, burst, maxKeys int, clk clock.Clock) *Limiter {
	if maxKeys <= 0 {
		maxKeys = DefaultMaxKeys
	}
	keys, err := lru.NewLRU[string, *rate.Limiter](maxKeys, nil)
	if err != nil {
		panic(err) // only for a non-positive size, excluded above
	}
	return &Limiter{limit: rate.Limit(perSecond), burst: max(burst, 1), clock: clk, keys: keys}
}

// Allow takes n tokens from key's bucket. When there are not enough it takes none and returns
// false with the instant (rounded up to the second) at which there will be.
func (l *Limiter) Allow(key string, n int) (ok bool, retryAt time.Time) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, found := l.keys.Get(key)
	if !found {
		lim = rate.NewLimiter(l.limit, l.burst)
		l.keys.Add(key, lim)
	}
	if n > l.burst {
		// Never satisfiable: wait a whole bucket's refill and still refuse.
		return false, ceilSecond(now.Add(l.refill(l.burst)))
	}
	r := lim.ReserveN(now, n)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, ceilSecond(now.Add(d))
	}
	return true, time.Time{}
}

// Exhausted reports, without taking anything, whether key's bucket lacks a whole token, and
// if so the instant (rounded up to the second) at which it will have one. A key without a
// bucket has a full one.
func (l *Limiter) Exhausted(key string) (bool, time.Time) {
	now := l.clock.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	lim, found := l.keys.Get(key)
	if !found {
		return false, time.Time{}
	}
	tokens := lim.TokensAt(now)
	if tokens >= 1 {
		return false, time.Time{}
	}
	if l.limit <= 0 {
		return true, ceilSecond(now.Add(time.Hour))
	}
	return true, ceilSecond(now.Add(time.Duration((1 - tokens) / float64(l.limit) * float64(time.Second))))
}

// Len returns the number of buckets held.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keys.Len()
}

func (l *Limiter) refill(n int) time.Duration {
	if l.limit <= 0 {
		return time.Hour
	}
	return time.Duration(float64(n) / float64(l.limit) * float64(time.Second))
}

func ceilSecond(t time.Time) time.Time {
	if r := t.Truncate(time.Second); !r.Equal(t) {
		return r.Add(time.Second)
	}
	return t
}
