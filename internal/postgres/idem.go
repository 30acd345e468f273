package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/recert/recert/internal/idem"
)

var _ idem.Store = (*Store)(nil)

// A key's row is unique per (scope, key), the table's primary key since the merge's keys
// (migration 0004). A per-caller key's owner is part of its row's scope (rowScope), so two
// callers' keys never meet and the table keeps the shape every release since reads: instances
// of the previous release keep working beside this one during a rolling deploy (issue 15).
const (
	claimKeySQL = `
INSERT INTO idempotency_keys (scope, key, request_hash, response, created_at, expires_at, actor)
VALUES ($1, $2, $3, '{}', $4, $5, $6)
ON CONFLICT (scope, key) DO NOTHING`
	heldKeySQL = `SELECT request_hash, response, expires_at, actor FROM idempotency_keys
WHERE scope = $1 AND key = $2 FOR UPDATE`
	takeOverKeySQL = `UPDATE idempotency_keys SET request_hash = $3, response = '{}', created_at = $4, expires_at = $5, actor = $6
WHERE scope = $1 AND key = $2`
	storeResponseSQL = `UPDATE idempotency_keys SET response = $3 WHERE scope = $1 AND key = $2`
)

// rowScope is the scope column of k's row: the scope, and for a per-caller key its owner.
func rowScope(k idem.Key) string {
	if k.Owner == "" {
		return k.Scope
	}
	return k.Scope + "@" + k.Owner
}

// ClaimKey inserts the key as pending (idem.Store). When another transaction holds the same
// key, the insert waits for it to end: if it committed, the key's actor, hash and response are
// returned (locked, so a concurrent purge cannot delete them under us); if it rolled back, this
// request claims the key. A key expired at k.CreatedAt is taken over (by k.Actor, whoever held
// it before).
func (s *Store) ClaimKey(ctx context.Context, k idem.Key) (idem.Claimed, error) {
	for range 3 {
		res, err := s.exec(ctx, claimKeySQL, rowScope(k), k.Key, k.RequestHash, k.CreatedAt, k.ExpiresAt, k.Actor)
		if err != nil {
			return idem.Claimed{}, err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return idem.Claimed{Fresh: true}, nil
		}
		var held struct {
			Hash      []byte    `db:"request_hash"`
			Response  []byte    `db:"response"`
			ExpiresAt time.Time `db:"expires_at"`
			Actor     string    `db:"actor"`
		}
		err = s.get(ctx, &held, heldKeySQL, rowScope(k), k.Key)
		if errors.Is(err, sql.ErrNoRows) {
			continue // purged between the two statements: try to insert again
		}
		if err != nil {
			return idem.Claimed{}, err
		}
		if !held.ExpiresAt.After(k.CreatedAt) {
			if _, err := s.exec(ctx, takeOverKeySQL, rowScope(k), k.Key, k.RequestHash, k.CreatedAt, k.ExpiresAt, k.Actor); err != nil {
				return idem.Claimed{}, err
			}
			return idem.Claimed{Fresh: true}, nil
		}
		return idem.Claimed{Actor: held.Actor, RequestHash: held.Hash, Response: held.Response}, nil
	}
	return idem.Claimed{}, errors.New("idempotency key kept disappearing")
}

// StoreResponse records the response of a key this transaction claimed (idem.Store).
func (s *Store) StoreResponse(ctx context.Context, k idem.Key, response []byte) error {
	res, err := s.exec(ctx, storeResponseSQL, rowScope(k), k.Key, response)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("idempotency key %q of %s not claimed", k.Key, k.Scope)
	}
	return nil
}
