package main

import (
	"sort"
	"sync"
)

// tally counts deliveries per key (a reminder's Message-ID, a webhook's webhook-id); the
// sinks share it. Its zero value is not usable: use newTally.
type tally struct {
	mu   sync.Mutex
	seen map[string]int
}

func newTally() *tally { return &tally{seen: map[string]int{}} }

func (t *tally) add(key string) {
	t.mu.Lock()
	t.seen[key]++
	t.mu.Unlock()
}

// counts returns the distinct keys received, how many of them came more than once, and up to
// 5 of those (sorted, so a report is stable).
func (t *tally) counts() (distinct, twice int, keys []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var all []string
	for k, n := range t.seen {
		distinct++
		if n > 1 {
			twice++
			all = append(all, k)
		}
	}
	sort.Strings(all)
	return distinct, twice, all[:min(len(all), 5)]
}

// keys returns every key received, each mapped through f; keys f refuses are left out.
func (t *tally) keys(f func(string) (string, bool)) map[string]bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]bool, len(t.seen))
	for k := range t.seen {
		if v, ok := f(k); ok {
			out[v] = true
		}
	}
	return out
}
