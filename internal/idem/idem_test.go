package idem_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/audit"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/idem"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var t0 = time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)

// env is a migrated database; the tests' requests write audit events ("things").
type env struct {
	db    *sqlx.DB
	store *postgres.Store
}

func newEnv(t *testing.T) env {
	t.Helper()
	db := pgtest.New(t)
	return env{db: db, store: postgres.New(db)}
}

// create runs one keyed request writing a thing (an audit event) with note, as the mutations
// do: the key and the write in one transaction.
func (e env) create(p *auth.Principal, key *string, note string, now time.Time) (uuid.UUID, bool, error) {
	ctx := context.Background()
	k, err := idem.Own(p, "createThing", key, now, idem.Retention, note)
	if err != nil {
		return uuid.Nil, false, err
	}
	var id uuid.UUID
	var replayed bool
	err = e.store.InTx(ctx, func(tx *postgres.Store) error {
		id, replayed, err = idem.Once(ctx, tx, k, idem.Refusals{}, func() (uuid.UUID, error) {
			ev, err := audit.New("thing", p.Identity(), map[string]string{"note": note}, now)
			if err != nil {
				return uuid.Nil, err
			}
			ev, err = tx.InsertAudit(ctx, ev)
			return ev.ID, err
		})
		return err
	})
	return id, replayed, err
}

func (e env) things(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM audit_events WHERE action = 'thing'`); err != nil {
		t.Fatal(err)
	}
	return n
}

func learner(sub string) *auth.Principal {
	return &auth.Principal{Issuer: "https://login.example", Subject: sub, Kind: auth.KindPersonal}
}

func key(s string) *string { return &s }

func TestRepeatReturnsTheFirstAnswerAndWritesNothing(t *testing.T) {
	e := newEnv(t)
	alice := learner("alice")
	first, replayed, err := e.create(alice, key("k-1"), "a", t0)
	if err != nil || replayed {
		t.Fatalf("first: got replayed %v, err %v; want a fresh write", replayed, err)
	}
	again, replayed, err := e.create(alice, key("k-1"), "a", t0.Add(time.Hour))
	if err != nil || !replayed || again != first {
		t.Fatalf("repeat: got %s replayed %v err %v, want %s replayed", again, replayed, err, first)
	}
	if n := e.things(t); n != 1 {
		t.Fatalf("got %d rows, want 1", n)
	}
	// Without a key nothing is remembered: each request writes.
	for range 2 {
		if _, _, err := e.create(alice, nil, "a", t0); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.things(t); n != 3 {
		t.Fatalf("got %d rows, want 3", n)
	}
}

func TestSameKeyWithAnotherRequestIsRefused(t *testing.T) {
	e := newEnv(t)
	alice := learner("alice")
	if _, _, err := e.create(alice, key("k-1"), "a", t0); err != nil {
		t.Fatal(err)
	}
	_, _, err := e.create(alice, key("k-1"), "b", t0)
	if got := apperr.CodeOf(err); got != apperr.IdempotencyKeyReused {
		t.Fatalf("got %v, want IDEMPOTENCY_KEY_REUSED", err)
	}
	if n := e.things(t); n != 1 {
		t.Fatalf("got %d rows, want 1", n)
	}
}

func TestKeysAreEachCallersOwn(t *testing.T) {
	e := newEnv(t)
	a, _, err := e.create(learner("alice"), key("k-1"), "a", t0)
	if err != nil {
		t.Fatal(err)
	}
	b, replayed, err := e.create(learner("bob"), key("k-1"), "a", t0)
	if err != nil || replayed || b == a {
		t.Fatalf("bob: got %s replayed %v err %v, want his own new thing (alice's is %s)", b, replayed, err, a)
	}
	// Bob's key with another request is his own key too: no refusal because of Alice's.
	if _, _, err := e.create(learner("bob"), key("k-2"), "b", t0); err != nil {
		t.Fatal(err)
	}
	if n := e.things(t); n != 3 {
		t.Fatalf("got %d rows, want 3", n)
	}
}

// A shared scope (owner "", the merge's) refuses a key another actor used first.
func TestSharedKeysRefuseAnotherActor(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	run := func(actor string) error {
		k := &idem.Key{Scope: "shared", Key: "k-1", Actor: actor, RequestHash: idem.Hash("shared", 1),
			CreatedAt: t0, ExpiresAt: t0.Add(idem.Retention)}
		return e.store.InTx(ctx, func(tx *postgres.Store) error {
			_, _, err := idem.Once(ctx, tx, k, idem.Refusals{OtherActor: "someone else's"}, func() (int, error) { return 1, nil })
			return err
		})
	}
	if err := run("agent-1"); err != nil {
		t.Fatal(err)
	}
	err := run("agent-2")
	var ae *apperr.Error
	if !errors.As(err, &ae) || ae.Code != apperr.IdempotencyKeyReused || ae.Message != "someone else's" {
		t.Fatalf("got %v, want IDEMPOTENCY_KEY_REUSED worded by the scope", err)
	}
}

// A request that fails stores nothing under its key: the retry does the work.
func TestFailedRequestLeavesItsKeyUnused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alice := learner("alice")
	k, err := idem.Own(alice, "createThing", key("k-1"), t0, idem.Retention, "a")
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err = e.store.InTx(ctx, func(tx *postgres.Store) error {
		_, _, err := idem.Once(ctx, tx, k, idem.Refusals{}, func() (int, error) { return 0, boom })
		return err
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want the request's own error", err)
	}
	if _, replayed, err := e.create(alice, key("k-1"), "a", t0); err != nil || replayed {
		t.Fatalf("retry: got replayed %v err %v, want a fresh write", replayed, err)
	}
	if n := e.things(t); n != 1 {
		t.Fatalf("got %d rows, want 1", n)
	}
}

// The same request with the same key sent many times at once writes once; every answer is
// the first one (the later requests wait on the key's row, then replay).
func TestConcurrentRepeatsWriteOnce(t *testing.T) {
	e := newEnv(t)
	alice := learner("alice")
	const n = 8
	ids := make([]uuid.UUID, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ids[i], _, errs[i] = e.create(alice, key("k-1"), "a", t0)
		}()
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil || ids[i] != ids[0] {
			t.Fatalf("request %d: got %s err %v, want %s", i, ids[i], errs[i], ids[0])
		}
	}
	if got := e.things(t); got != 1 {
		t.Fatalf("got %d rows, want 1", got)
	}
}

func TestExpiredKeyIsForgotten(t *testing.T) {
	e := newEnv(t)
	alice := learner("alice")
	first, _, err := e.create(alice, key("k-1"), "a", t0)
	if err != nil {
		t.Fatal(err)
	}
	later, replayed, err := e.create(alice, key("k-1"), "b", t0.Add(idem.Retention))
	if err != nil || replayed || later == first {
		t.Fatalf("after retention: got %s replayed %v err %v, want a new request", later, replayed, err)
	}
}

func TestCheckRefusesBlankAndLongKeys(t *testing.T) {
	for _, k := range []string{"", "  ", strings.Repeat("k", idem.MaxLen+1)} {
		if err := idem.Check(&k); apperr.CodeOf(err) != apperr.BadUserInput {
			t.Errorf("key of %d characters: got %v, want BAD_USER_INPUT", len(k), err)
		}
	}
	for _, k := range []*string{nil, key("k"), key(strings.Repeat("é", idem.MaxLen))} {
		if err := idem.Check(k); err != nil {
			t.Errorf("got %v, want the key accepted", err)
		}
	}
}
