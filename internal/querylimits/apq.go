package querylimits

import (
	"context"
	"log/slog"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/recert/recert/internal/clock"
)

// APQStore keeps automatic persisted queries where every API instance sees them (PostgreSQL:
// postgres.PersistedQueries).
type APQStore interface {
	Document(ctx context.Context, hash string, now time.Time) (string, bool, error)
	Register(ctx context.Context, hash, document string, now time.Time) error
	Touch(ctx context.Context, hash string, now time.Time) error
}

// apqTouchEvery is how often an instance serving a document from memory tells the store it is
// still in use, so the store's least-recently-used trimming keeps it.
const apqTouchEvery = time.Hour

// SharedAPQ is the Guard's APQ cache for several instances: registrations go to the store,
// and a small in-process LRU in front answers the hashes this instance has seen. A store that
// fails is logged and the hash treated as unknown: the client resends the document (the APQ
// retry), and the request itself then meets the database outage.
type SharedAPQ struct {
	store APQStore
	clock clock.Clock
	log   *slog.Logger

	mu    sync.Mutex
	local *lru.LRU[string, apqEntry]
}

type apqEntry struct {
	doc     string
	touched time.Time
}

// NewSharedAPQ returns the cache on store with an in-process LRU of size entries.
func NewSharedAPQ(store APQStore, clk clock.Clock, log *slog.Logger, size int) *SharedAPQ {
	local, err := lru.NewLRU[string, apqEntry](max(size, 1), nil)
	if err != nil {
		panic(err) // only for a non-positive size, excluded above
	}
	return &SharedAPQ{store: store, clock: clk, log: log, local: local}
}

// Get returns the document of hash, from memory or from the store.
func (c *SharedAPQ) Get(ctx context.Context, hash string) (string, bool) {
	now := c.clock.Now()
	c.mu.Lock()
	e, ok := c.local.Get(hash)
	stale := ok && now.Sub(e.touched) >= apqTouchEvery
	if stale {
		e.touched = now
		c.local.Add(hash, e)
	}
	c.mu.Unlock()
	if ok {
		if stale {
			if err := c.store.Touch(ctx, hash, now); err != nil {
				c.log.WarnContext(ctx, "persisted query: touch", "error", err)
			}
		}
		return e.doc, true
	}
	doc, found, err := c.store.Document(ctx, hash, now)
	if err != nil {
		c.log.WarnContext(ctx, "persisted query: load", "error", err)
		return "", false
	}
	if !found {
		return "", false
	}
	c.remember(hash, doc, now)
	return doc, true
}

// Add registers document under hash (the Guard has checked the hash and the limits).
func (c *SharedAPQ) Add(ctx context.Context, hash, document string) {
	now := c.clock.Now()
	if err := c.store.Register(ctx, hash, document, now); err != nil {
		c.log.WarnContext(ctx, "persisted query: register", "error", err)
	}
	c.remember(hash, document, now)
}

func (c *SharedAPQ) remember(hash, doc string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.local.Add(hash, apqEntry{doc: doc, touched: now})
}
