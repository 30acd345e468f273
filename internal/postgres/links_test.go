package postgres_test

import (
	"context"
	"io/fs"
	"os"
	"path"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/postgres/pgtest"
)

// TestDatabaseRefusesLinksAcrossAccounts: whoever writes profile_links (the service, a
// merge, a support script, raw SQL), a Learn profile is only ever connected to an ACTIVE
// certification profile of its own account, and a connected profile cannot become MERGED.
func TestDatabaseRefusesLinksAcrossAccounts(t *testing.T) {
	db := pgtest.New(t)
	a, lpA := newAccount(t, db, "a")
	b, lpB := newAccount(t, db, "b")
	pA := newProfile(t, db, a, "A")
	pB := newProfile(t, db, b, "B")
	pA2 := newProfile(t, db, a, "A again")

	insert := func(lp, p, account uuid.UUID) error {
		_, err := db.Exec(`INSERT INTO profile_links (learn_profile_id, certification_profile_id, account_id, linked_at)
VALUES ($1, $2, $3, $4)`, lp, p, account, at)
		return err
	}
	refused := func(what string, err error, constraint string) {
		t.Helper()
		if got := pgtest.ConstraintName(err); got != constraint {
			t.Fatalf("%s: got %v (constraint %q), want refused by %s", what, err, got, constraint)
		}
	}
	// Written as before 0013 (no account): refused, since the row must name its account.
	if _, err := db.Exec(`INSERT INTO profile_links (learn_profile_id, certification_profile_id, linked_at) VALUES ($1, $2, $3)`,
		lpB, pA, at); err == nil {
		t.Fatal("a link from B's Learn profile to A's profile was stored")
	}
	// Another account's Learn profile, whichever account the row names.
	refused("B's Learn profile to A's profile, row says A", insert(lpB, pA, a), "profile_links_learn_profile_account_fkey")
	refused("B's Learn profile to A's profile, row says B", insert(lpB, pA, b), "profile_links_certification_profile_account_fkey")
	// A row naming a third account matches neither side.
	refused("row naming the wrong account", insert(lpA, pA, b), "profile_links_learn_profile_account_fkey")
	// A row not naming an account at all, even within one account.
	_, err := db.Exec(`INSERT INTO profile_links (learn_profile_id, certification_profile_id, linked_at) VALUES ($1, $2, $3)`, lpA, pA, at)
	if err == nil || !strings.Contains(err.Error(), "account_id") {
		t.Fatalf("a row without its account: got %v, want a not-null violation", err)
	}

	// The same account is fine.
	if err := insert(lpA, pA, a); err != nil {
		t.Fatalf("A's Learn profile to A's profile: %v", err)
	}
	// Moving the link to another account's profile (what a merge used to do) is refused.
	_, err = db.Exec(`UPDATE profile_links SET certification_profile_id = $1 WHERE learn_profile_id = $2`, pB, lpA)
	refused("moving A's link to B's profile", err, "profile_links_certification_profile_account_fkey")
	// A connected profile cannot be marked MERGED ...
	_, err = db.Exec(`UPDATE certification_profiles SET status = 'MERGED', merged_into = $2 WHERE id = $1`, pA, pA2)
	refused("merging away a connected profile", err, "profile_links_certification_profile_account_fkey")
	// ... and a MERGED profile cannot be connected.
	if _, err := db.Exec(`DELETE FROM profile_links`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE certification_profiles SET status = 'MERGED', merged_into = $2 WHERE id = $1`, pA, pA2); err != nil {
		t.Fatal(err)
	}
	refused("connecting a MERGED profile", insert(lpA, pA, a), "profile_links_certification_profile_account_fkey")
	_, err = db.Exec(`INSERT INTO profile_links (learn_profile_id, certification_profile_id, account_id, linked_at, certification_status)
VALUES ($1, $2, $3, $4, 'MERGED')`, lpA, pA, a, at)
	refused("connecting a MERGED profile, row says MERGED", err, "profile_links_certification_status_check")

	// Through the store, the refusals are the API codes.
	store := postgres.New(db)
	err = postgres.CertProfile{Store: store}.InTx(context.Background(), func(tx certprofile.Store) error {
		return tx.InsertLink(context.Background(), certprofile.Link{LearnProfileID: lpA, CertificationProfileID: pB, LinkedAt: at})
	})
	if apperr.CodeOf(err) != apperr.AccountMismatch {
		t.Fatalf("InsertLink across accounts: got %v, want ACCOUNT_MISMATCH", err)
	}
	err = postgres.CertProfile{Store: store}.InTx(context.Background(), func(tx certprofile.Store) error {
		return tx.InsertLink(context.Background(), certprofile.Link{LearnProfileID: lpA, CertificationProfileID: pA, LinkedAt: at})
	})
	if apperr.CodeOf(err) != apperr.ProfileAlreadyMerged {
		t.Fatalf("InsertLink of a MERGED profile: got %v, want PROFILE_ALREADY_MERGED", err)
	}
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM profile_links`); err != nil || n != 0 {
		t.Fatalf("got %d links (%v), want 0", n, err)
	}
}

// migrationsUpTo returns the repository's migrations numbered up to last.
func migrationsUpTo(t *testing.T, last string) fstest.MapFS {
	t.Helper()
	dir := os.DirFS("../../migrations")
	names, err := fs.Glob(dir, "*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("migrations: %v %v", names, err)
	}
	out := fstest.MapFS{}
	for _, n := range names {
		if n[:4] > last {
			continue
		}
		b, err := fs.ReadFile(dir, n)
		if err != nil {
			t.Fatal(err)
		}
		out[path.Base(n)] = &fstest.MapFile{Data: b}
	}
	return out
}

// TestMigration0013HandlesExistingLinks: a database migrated before 0013 may hold links
// across accounts (made by merges) and links of MERGED profiles. 0013 removes them, each
// recorded as an unlink audit event on the certification profile, keeps every other link with
// its account, and gives held idempotency keys the actor of the merge they stored.
func TestMigration0013HandlesExistingLinks(t *testing.T) {
	ctx := context.Background()
	db, _ := pgtest.NewEmpty(t)
	if err := postgres.Migrate(ctx, db.DB, migrationsUpTo(t, "0012")); err != nil {
		t.Fatalf("migrate to 0012: %v", err)
	}
	a, lpA := newAccount(t, db, "a")
	b, lpB := newAccount(t, db, "b")
	c, lpC := newAccount(t, db, "c")
	pA, pB, pC := newProfile(t, db, a, "A"), newProfile(t, db, b, "B"), newProfile(t, db, c, "C")
	pC2 := newProfile(t, db, c, "C again")
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	link := `INSERT INTO profile_links (learn_profile_id, certification_profile_id, linked_at) VALUES ($1, $2, $3)`
	exec(link, lpA, pA, at) // fine
	exec(link, lpB, pC, at) // across accounts: B's Learn profile on C's profile (a merge moved it)
	exec(`UPDATE certification_profiles SET status = 'MERGED', merged_into = $2 WHERE id = $1`, pC2, pC)
	exec(link, lpC, pC2, at) // a MERGED profile still connected
	var ev uuid.UUID
	if err := db.Get(&ev, `INSERT INTO audit_events (action, actor, details, occurred_at) VALUES ('profile.merge', 'iss|agent-1', '{}', $1)
RETURNING id`, at); err != nil {
		t.Fatal(err)
	}
	exec(`INSERT INTO idempotency_keys (scope, key, request_hash, response, created_at, expires_at)
VALUES ('merge', 'k-held', '\x00', jsonb_build_object('auditEventId', $1::text), $2, $2::timestamptz + interval '30 days'),
       ('merge', 'k-orphan', '\x00', '{"auditEventId": "00000000-0000-0000-0000-000000000000"}', $2, $2::timestamptz + interval '30 days')`, ev, at)

	if err := postgres.Migrate(ctx, db.DB, migrationsUpTo(t, "9999")); err != nil {
		t.Fatalf("migrate 0013: %v", err)
	}
	var links []struct {
		LP      uuid.UUID `db:"learn_profile_id"`
		P       uuid.UUID `db:"certification_profile_id"`
		Account uuid.UUID `db:"account_id"`
	}
	if err := db.Select(&links, `SELECT learn_profile_id, certification_profile_id, account_id FROM profile_links`); err != nil {
		t.Fatal(err)
	}
	if len(links) != 1 || links[0].LP != lpA || links[0].P != pA || links[0].Account != a {
		t.Fatalf("got links %+v, want only A's, naming account A", links)
	}
	var removed []struct {
		Profile uuid.UUID `db:"profile_id"`
		Actor   string    `db:"actor"`
		Learn   string    `db:"learn"`
		Reason  string    `db:"reason"`
	}
	if err := db.Select(&removed, `SELECT ep.profile_id, e.actor, e.details->>'learnProfileId' AS learn, e.reason
FROM audit_events e JOIN audit_event_profiles ep ON ep.event_id = e.id WHERE e.action = 'profile.unlink' ORDER BY e.reason`); err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 || removed[0].Profile != pC || removed[0].Learn != lpB.String() || !strings.Contains(removed[0].Reason, "different accounts") ||
		removed[1].Profile != pC2 || removed[1].Learn != lpC.String() || !strings.Contains(removed[1].Reason, "merged") ||
		removed[0].Actor != "migration:0013_link_same_account" {
		t.Fatalf("got removal events %+v, want B's link on C and the link of C's merged profile, by the migration", removed)
	}
	var keys []struct {
		Key   string `db:"key"`
		Actor string `db:"actor"`
	}
	if err := db.Select(&keys, `SELECT key, actor FROM idempotency_keys`); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].Key != "k-held" || keys[0].Actor != "iss|agent-1" {
		t.Fatalf("got keys %+v, want k-held owned by iss|agent-1 (the orphan dropped)", keys)
	}
	// Both people whose links were removed can connect their own profiles again.
	for _, l := range []struct{ lp, p, acc uuid.UUID }{{lpB, pB, b}, {lpC, pC, c}} {
		exec(`INSERT INTO profile_links (learn_profile_id, certification_profile_id, account_id, linked_at) VALUES ($1, $2, $3, $4)`,
			l.lp, l.p, l.acc, at)
	}
}
