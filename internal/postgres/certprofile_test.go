package postgres_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/postgres/pgtest"
)

var at = time.Date(2021, 3, 1, 9, 0, 0, 0, time.UTC)

// newAccount inserts a personal account and its Learn profile.
func newAccount(t *testing.T, db *sqlx.DB, sub string) (account, learnProfile uuid.UUID) {
	t.Helper()
	if err := db.Get(&account, `INSERT INTO accounts (issuer, subject, kind, created_at) VALUES ('test', $1, 'PERSONAL', $2) RETURNING id`, sub, at); err != nil {
		t.Fatal(err)
	}
	if err := db.Get(&learnProfile, `INSERT INTO learn_profiles (account_id, created_at) VALUES ($1, $2) RETURNING id`, account, at); err != nil {
		t.Fatal(err)
	}
	return account, learnProfile
}

func newProfile(t *testing.T, db *sqlx.DB, account uuid.UUID, name string) uuid.UUID {
	t.Helper()
	var id uuid.UUID
	if err := db.Get(&id, `INSERT INTO certification_profiles (account_id, legal_name, email, created_at)
VALUES ($1, $2, 'x@example.com', $3) RETURNING id`, account, name, at); err != nil {
		t.Fatal(err)
	}
	return id
}

// raceLinks inserts the links concurrently, each in its own transaction, all of them inside
// their transaction before any inserts, and returns each one's error.
func raceLinks(t *testing.T, store *postgres.Store, links []certprofile.Link) []error {
	t.Helper()
	errs := make([]error, len(links))
	var ready, wg sync.WaitGroup
	ready.Add(len(links))
	for i, l := range links {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var once sync.Once
			errs[i] = postgres.CertProfile{Store: store}.InTx(context.Background(), func(tx certprofile.Store) error {
				if _, _, err := tx.LinksOf(context.Background(), l.CertificationProfileID, l.LearnProfileID); err != nil {
					return err
				}
				once.Do(func() { ready.Done(); ready.Wait() }) // every transaction has begun and read
				return tx.InsertLink(context.Background(), l)
			})
		}()
	}
	wg.Wait()
	return errs
}

func TestConcurrentConflictingLinksLeaveOneRow(t *testing.T) {
	db := pgtest.New(t)
	store := postgres.New(db)
	a1, lp1 := newAccount(t, db, "one")
	_, lp2 := newAccount(t, db, "two")
	p1 := newProfile(t, db, a1, "One")
	p2 := newProfile(t, db, a1, "One Again")

	cases := []struct {
		name  string
		links []certprofile.Link
		want  []apperr.Code
	}{
		// An account has one Learn profile, so a second Learn profile for one certification
		// profile is always another account's: the account foreign key refuses it, unless the
		// insert first waits on the unique index for the other link, which then commits.
		{"two Learn profiles for one certification profile", []certprofile.Link{
			{LearnProfileID: lp1, CertificationProfileID: p1, LinkedAt: at},
			{LearnProfileID: lp2, CertificationProfileID: p1, LinkedAt: at},
		}, []apperr.Code{apperr.AccountMismatch, apperr.CertificationProfileAlreadyLinked}},
		{"one Learn profile for two certification profiles", []certprofile.Link{
			{LearnProfileID: lp1, CertificationProfileID: p1, LinkedAt: at},
			{LearnProfileID: lp1, CertificationProfileID: p2, LinkedAt: at},
		}, []apperr.Code{apperr.LearnProfileAlreadyLinked}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := db.Exec(`DELETE FROM profile_links`); err != nil {
				t.Fatal(err)
			}
			errs := raceLinks(t, store, c.links)
			var ok, refused int
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case slices.Contains(c.want, apperr.CodeOf(err)):
					refused++
				default:
					t.Errorf("got error %v, want nil or one of %v", err, c.want)
				}
			}
			if ok != 1 || refused != 1 {
				t.Errorf("got %d successes and %d refusals, want 1 and 1", ok, refused)
			}
			var n int
			if err := db.Get(&n, `SELECT count(*) FROM profile_links`); err != nil || n != 1 {
				t.Errorf("got %d links (%v), want 1", n, err)
			}
		})
	}
}

// explain returns the plan PostgreSQL chooses for the search of q.
func explain(t *testing.T, db *sqlx.DB, q certprofile.Query) string {
	t.Helper()
	query, args := postgres.SearchSQL(q, nil, 21)
	var lines []string
	if err := db.Select(&lines, `EXPLAIN `+query, args...); err != nil {
		t.Fatalf("explain: %v", err)
	}
	return strings.Join(lines, "\n")
}

func TestSearchUsesTheIndexes(t *testing.T) {
	db := pgtest.New(t)
	a, _ := newAccount(t, db, "many")
	// 5000 profiles with varied names and emails, some alternate emails; then statistics.
	if _, err := db.Exec(`
INSERT INTO certification_profiles (account_id, legal_name, email, created_at)
SELECT $1, (ARRAY['José','Ana','Kenji','Marie','Ólafur','Wei','Priya','Sven'])[1 + i % 8] || ' ' ||
           (ARRAY['Álvarez','Tanaka','Dubois','Müller','Nguyen','Smith','Kowalski','Rossi'])[1 + (i / 8) % 8] || ' ' || md5(i::text),
       'user' || i || '@example.com', $2
FROM generate_series(1, 5000) AS i`, a, at); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`
INSERT INTO profile_alternate_emails (profile_id, email, added_at)
SELECT id, 'old.' || mcid || '@example.com', $1 FROM certification_profiles WHERE mcid % 10 = 0`, at); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`ANALYZE`); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		q     certprofile.Query
		index []string
	}{
		{"part of a name uses the trigram index", certprofile.Query{Mode: certprofile.ByName, Text: "4a7d1ed4"},
			[]string{"certification_profiles_name_search_idx"}},
		{"a folded and escaped query uses the trigram index too", certprofile.Query{Mode: certprofile.ByName, Text: "4Á7D％1ED＿"},
			[]string{"certification_profiles_name_search_idx", `'%4a7d\%1ed\_%'`}},
		{"email uses both lower(email) indexes", certprofile.Query{Mode: certprofile.ByEmail, Text: "User42@example.com"},
			[]string{"certification_profiles_email_idx", "profile_alternate_emails_email_idx"}},
		{"MCID uses its unique index", certprofile.Query{Mode: certprofile.ByMCID, MCID: 990000042},
			[]string{"certification_profiles_mcid_key"}},
	}
	for _, c := range cases {
		plan := explain(t, db, c.q)
		t.Logf("%s:\n%s", c.name, plan)
		for _, idx := range c.index {
			if !strings.Contains(plan, idx) {
				t.Errorf("%s: got plan\n%s\nwant it to use %s", c.name, plan, idx)
			}
		}
		if strings.Contains(plan, "Seq Scan on certification_profiles") {
			t.Errorf("%s: got a sequential scan of the profiles:\n%s", c.name, plan)
		}
	}
}
