// Package clock is the single source of "now" (docs/domain.md "Time"): production code reads a
// Real clock, tests a Settable one they move instead of sleeping.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current instant, always in UTC.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns the current UTC time.
func (Real) Now() time.Time { return time.Now().UTC() }

// Settable is a clock for tests: it stands still until Set or Advance moves it.
type Settable struct {
	mu  sync.Mutex
	now time.Time
}

// NewSettable returns a Settable clock reading t.
func NewSettable(t time.Time) *Settable { return &Settable{now: t.UTC()} }

// Now returns the clock's current reading.
func (s *Settable) Now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// Set moves the clock to t.
func (s *Settable) Set(t time.Time) {
	s.mu.Lock()
	s.now = t.UTC()
	s.mu.Unlock()
}

// Advance moves the clock forward by d.
func (s *Settable) Advance(d time.Duration) {
	s.mu.Lock()
	s.now = s.now.Add(d)
	s.mu.Unlock()
}
