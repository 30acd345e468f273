package postgres_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/postgres/pgtest"
)

// Reads on the pool run as prepared statements, one per query text, reused across calls and
// connections; reads inside a transaction stay unprepared (and still work).
func TestReadsReusePreparedStatements(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	ctx := context.Background()
	s := postgres.New(db)
	p := postgres.CertProfile{Store: s}
	for i := 0; i < 5; i++ {
		if _, errs := p.ProfilesByIDs(ctx, []uuid.UUID{uuid.New()}); len(errs) != 1 || errs[0] == nil {
			t.Fatalf("got errors %v, want one NOT_FOUND", errs)
		}
	}
	if got := s.PreparedCount(); got != 1 {
		t.Fatalf("got %d prepared statements after 5 identical reads, want 1", got)
	}
	if _, err := p.ProfileByMCID(ctx, 1); err == nil {
		t.Fatal("got a profile for MCID 1, want NOT_FOUND")
	}
	if got := s.PreparedCount(); got != 2 {
		t.Fatalf("got %d prepared statements after a second query, want 2", got)
	}
	err := s.InTx(ctx, func(tx *postgres.Store) error {
		_, err := postgres.CertProfile{Store: tx}.ProfilesByAccount(ctx, uuid.New())
		return err
	})
	if err != nil {
		t.Fatalf("read in a transaction: %v", err)
	}
	if got := s.PreparedCount(); got != 2 {
		t.Fatalf("got %d prepared statements after a read in a transaction, want still 2", got)
	}
}
