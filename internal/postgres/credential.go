package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
)

// Credential adapts the Store to credential.Store.
type Credential struct{ *Store }

// allocateStatusIndexes gives each listed earned certification without an index the next one;
// the NOT EXISTS keeps the identity sequence from advancing for rows that already have one.
const allocateStatusIndexes = `
INSERT INTO credential_status_entries (earned_certification_id, allocated_at)
SELECT id, $2 FROM unnest($1::uuid[]) AS id
WHERE NOT EXISTS (SELECT 1 FROM credential_status_entries c WHERE c.earned_certification_id = id)
ORDER BY id
ON CONFLICT (earned_certification_id) DO NOTHING`

const statusIndexesByEarnedIDs = `
SELECT earned_certification_id, status_index FROM credential_status_entries
WHERE earned_certification_id = ANY($1)`

// StatusIndexes returns the status index of each earned certification in key order,
// allocating the missing ones first (two statements).
func (c Credential) StatusIndexes(ctx context.Context, ids []uuid.UUID, at time.Time) ([]int64, error) {
	if _, err := c.exec(ctx, allocateStatusIndexes, pq.Array(ids), at); err != nil {
		return nil, fmt.Errorf("allocate status indexes: %w", err)
	}
	var rows []struct {
		ID    uuid.UUID `db:"earned_certification_id"`
		Index int64     `db:"status_index"`
	}
	if err := c.sel(ctx, &rows, statusIndexesByEarnedIDs, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("status indexes: %w", err)
	}
	by := make(map[uuid.UUID]int64, len(rows))
	for _, r := range rows {
		by[r.ID] = r.Index
	}
	out := make([]int64, len(ids))
	for i, id := range ids {
		idx, ok := by[id]
		if !ok {
			return nil, fmt.Errorf("status index of %s not allocated", id)
		}
		out[i] = idx
	}
	return out, nil
}

const revokedStatusIndexes = `
SELECT c.status_index FROM credential_status_entries c
JOIN earned_certifications e ON e.id = c.earned_certification_id
WHERE c.status_index >= $1 AND c.status_index < $2 AND e.superseded_at IS NOT NULL
ORDER BY c.status_index`

// RevokedIndexes lists the allocated indexes in [from, to) whose record is superseded.
func (c Credential) RevokedIndexes(ctx context.Context, from, to int64) ([]int64, error) {
	var out []int64
	if err := c.sel(ctx, &out, revokedStatusIndexes, from, to); err != nil {
		return nil, fmt.Errorf("revoked status indexes: %w", err)
	}
	return out, nil
}
