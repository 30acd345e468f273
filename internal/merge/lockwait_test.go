package merge_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/merge"
	"github.com/recert/recert/internal/postgres"
)

// gatedStore runs a hook right after the profiles are locked, inside the merge transaction,
// so a test can hold the locks while another request runs into them.
type gatedStore struct {
	merge.Store
	afterLock func()
}

func (g gatedStore) InTx(ctx context.Context, fn func(tx merge.Store) error) error {
	return g.Store.InTx(ctx, func(tx merge.Store) error { return fn(gatedStore{Store: tx, afterLock: g.afterLock}) })
}

func (g gatedStore) LockProfiles(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]certprofile.Profile, error) {
	m, err := g.Store.LockProfiles(ctx, ids)
	if err == nil && g.afterLock != nil {
		g.afterLock()
	}
	return m, err
}

// waitForLockWaiter returns once some other backend of this database waits on a row lock.
// It polls the server's activity view: a wait for a condition, not for time.
func waitForLockWaiter(t *testing.T, db *sqlx.DB) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := db.Get(&n, `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`); err != nil {
			t.Errorf("poll activity: %v", err)
			return
		}
		if n > 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Errorf("no request ever waited on the locked profiles")
}

// TestLoserWaitsForTheLockThenSeesMerged pins the interleaving the 20-round race test can
// only hope for: A-into-B holds both profile locks while B-into-A is blocked on them; once
// the first commits, the second re-reads the locked rows and is refused.
func TestLoserWaitsForTheLockThenSeesMerged(t *testing.T) {
	env := apitest.New(t)
	a, b := newProfile(t, env, "Gate A"), newProfile(t, env, "Gate B")
	addEarned(t, env, b, "azure-developer-associate", "2020-10-15", "2021-10-15")
	support := &auth.Principal{Issuer: apitest.Issuer, Subject: "agent-gate", Roles: []string{auth.RoleSupport}}
	base := postgres.Merge{Store: postgres.New(env.DB)}

	locked := make(chan struct{})
	first := merge.NewService(gatedStore{Store: base, afterLock: func() {
		close(locked)
		waitForLockWaiter(t, env.DB)
	}}, env.Clock)
	second := merge.NewService(base, env.Clock)

	firstErr := make(chan error, 1)
	go func() {
		_, err := first.Merge(context.Background(), support, merge.Request{SurvivorID: a.ID, DuplicateID: b.ID,
			Reason: "duplicate", IdempotencyKey: "gate-ab"})
		firstErr <- err
	}()
	<-locked
	_, err := second.Merge(context.Background(), support, merge.Request{SurvivorID: b.ID, DuplicateID: a.ID,
		Reason: "duplicate", IdempotencyKey: "gate-ba"})
	if err := <-firstErr; err != nil {
		t.Fatalf("first merge: got %v, want success", err)
	}
	if apperr.CodeOf(err) != apperr.ProfileAlreadyMerged {
		t.Fatalf("second merge: got %v, want PROFILE_ALREADY_MERGED", err)
	}
	sameCounts(t, "A", profileCounts(t, env.DB, a.ID), map[string]int{"earned": 1, "current": 1, "examResults": 0,
		"attempts": 0, "renewals": 0, "notifications": 0, "shares": 0, "links": 0})
	sameCounts(t, "B", profileCounts(t, env.DB, b.ID), zero)
}
