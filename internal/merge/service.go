package merge

import "github.com/recert/recert/internal/clock"

// Store is the persistence this service needs.
type Store interface{}

// Service implements the merge rules.
type Service struct {
	store Store
	clock clock.Clock
}

// NewService returns a Service on store.
func NewService(store Store, clk clock.Clock) *Service { return &Service{store: store, clock: clk} }
