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

const (
	claimKeySQL = `
INSERT INTO idempotency_keys (scope, owner, key, request_hash, response, created_at, expires_at, actor)
VALUES ($1, $2, $3, $4, '{}', $5, $6, $7)
ON CONFLICT (scope, owner, key) DO NOTHING`
	heldKeySQL = `SELECT request_hash, response, expires_at, actor FROM idempotency_keys
WHERE scope = $1 AND owner = $2 AND key = $3 FOR UPDATE`
	takeOverKeySQL = `UPDATE idempotency_keys SET request_hash = $4, response = '{}', created_at = $5, expires_at = $6, actor = $7
WHERE scope = $1 AND owner = $2 AND key = $3`
	storeResponseSQL = `UPDATE idempotency_keys SET response = $4 WHERE scope = $1 AND owner = $2 AND key = $3`
)

// ClaimKey inserts the key as pending (idem.Store). When another transaction holds the same
// key, the insert waits for it to end: if it committed, the key's actor, hash and response are
// returned (locked, so a concurrent purge cannot delete them under us); if it rolled back, this
// request claims the key. A key expired at k.CreatedAt is taken over (by k.Actor, whoever held
// it before).
func (s *Store) ClaimKey(ctx context.Context, k idem.Key) (idem.Claimed, error) {
	for range 3 {
		res, err := s.exec(ctx, claimKeySQL, k.Scope, k.Owner, k.Key, k.RequestHash, k.CreatedAt, k.ExpiresAt, k.Actor)
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
		err = s.get(ctx, &held, heldKeySQL, k.Scope, k.Owner, k.Key)
		if errors.Is(err, sql.ErrNoRows) {
			continue // purged between the two statements: try to insert again
		}
		if err != nil {
			return idem.Claimed{}, err
		}
		if !held.ExpiresAt.After(k.CreatedAt) {
			if _, err := s.exec(ctx, takeOverKeySQL, k.Scope, k.Owner, k.Key, k.RequestHash, k.CreatedAt, k.ExpiresAt, k.Actor); err != nil {
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
	res, err := s.exec(ctx, storeResponseSQL, k.Scope, k.Owner, k.Key, response)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fmt.Errorf("idempotency key %q of %s not claimed", k.Key, k.Scope)
	}
	return nil
}
