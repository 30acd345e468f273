package postgres

import (
	"context"
	"sync"

	"github.com/jmoiron/sqlx"
)

// stmtCacheSize bounds the prepared statements of a pool: the application's queries are
// constants, so this is only a guard against a query text built per request.
const stmtCacheSize = 512

// stmtCache holds one prepared statement per query text for reads on the pool (issue 8). With
// lib/pq an unprepared query with parameters costs two round trips (parse and describe, then
// bind and execute) and PostgreSQL parses and plans it every time; a prepared statement runs
// in one round trip, and PostgreSQL may reuse its plan. database/sql prepares it lazily on
// each pooled connection the first time it runs there.
type stmtCache struct {
	db *sqlx.DB
	mu sync.RWMutex
	m  map[string]*sqlx.Stmt
}

func newStmtCache(db *sqlx.DB) *stmtCache {
	return &stmtCache{db: db, m: make(map[string]*sqlx.Stmt)}
}

// prepared returns the cached statement for a read on the pool, or nil to run the query
// unprepared: inside a transaction (Tx.Stmt would prepare and close it on the transaction's
// connection, two round trips more), when the cache is full, or when preparing fails (the
// query then reports its own error).
func (s *Store) prepared(ctx context.Context, query string) *sqlx.Stmt {
	if s.tx != nil || s.stmts == nil {
		return nil
	}
	c := s.stmts
	c.mu.RLock()
	st, ok := c.m[query]
	full := len(c.m) >= stmtCacheSize
	c.mu.RUnlock()
	if ok {
		return st
	}
	if full {
		return nil
	}
	// Prepared with the caller's context and outside the lock: preparing waits for locks on
	// the tables the query reads, and must give up with the request's deadline.
	st, err := c.db.PreparexContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok {
		_ = st.Close()
		return prev
	}
	c.m[query] = st
	return st
}
