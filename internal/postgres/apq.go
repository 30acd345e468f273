package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// PersistedQueries stores automatic persisted queries (migration 0040) for every API instance,
// keeping at most Max documents (the least recently used go first).
type PersistedQueries struct {
	Store *Store
	Max   int
}

const persistedQueryLoad = `
UPDATE persisted_queries SET used_at = greatest(used_at, $2) WHERE hash = $1 RETURNING document`

// Document returns the document registered under hash and marks it used at now.
func (p PersistedQueries) Document(ctx context.Context, hash string, now time.Time) (string, bool, error) {
	var doc string
	err := p.Store.q.QueryRowxContext(ctx, persistedQueryLoad, hash, now).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("load persisted query: %w", err)
	}
	return doc, true, nil
}

// Touch marks the document under hash used at now (an instance serving it from memory).
func (p PersistedQueries) Touch(ctx context.Context, hash string, now time.Time) error {
	_, err := p.Store.exec(ctx, `UPDATE persisted_queries SET used_at = greatest(used_at, $2) WHERE hash = $1`, hash, now)
	return err
}

// persistedQueryTrim drops the documents past the newest $1 by use.
const persistedQueryTrim = `
DELETE FROM persisted_queries WHERE hash IN (
  SELECT hash FROM persisted_queries ORDER BY used_at DESC, hash OFFSET $1)`

// Register stores document under hash (its SHA-256, checked by the caller), used at now, and
// drops the least recently used documents past Max.
func (p PersistedQueries) Register(ctx context.Context, hash, document string, now time.Time) error {
	return p.Store.InTx(ctx, func(tx *Store) error {
		if _, err := tx.exec(ctx, `
INSERT INTO persisted_queries (hash, document, used_at) VALUES ($1, $2, $3)
ON CONFLICT (hash) DO UPDATE SET used_at = greatest(persisted_queries.used_at, excluded.used_at)`,
			hash, document, now); err != nil {
			return fmt.Errorf("register persisted query: %w", err)
		}
		if p.Max > 0 {
			if _, err := tx.exec(ctx, persistedQueryTrim, p.Max); err != nil {
				return fmt.Errorf("trim persisted queries: %w", err)
			}
		}
		return nil
	})
}
