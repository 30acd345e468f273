package benchseed_test

import (
	"context"
	"errors"
	"testing"

	"github.com/recert/recert/internal/benchseed"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fingerprint summarises the generated rows so two seeds can be compared.
const fingerprint = `SELECT md5(string_agg(id::text || earned_on || coalesce(expires_on::text, '-'), ',' ORDER BY id))
FROM earned_certifications`

// A small seed is consistent with the schema's rules and the domain's, deterministic for a
// seed, and a second run adds nothing.
func TestSeedSmallVolume(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ref := date.MustParse("2021-03-01")
	opts := benchseed.Options{Profiles: 300, Seed: 7, Ref: ref, Issuer: "recert-test", Heavy: 2, MergePairs: 1}
	db1, db2 := pgtest.New(t), pgtest.New(t)
	s1, err := benchseed.Seed(ctx, db1, opts)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	if _, err := benchseed.Seed(ctx, db2, opts); err != nil {
		t.Fatalf("seed again: %v", err)
	}
	var f1, f2 string
	if err := db1.Get(&f1, fingerprint); err != nil {
		t.Fatal(err)
	}
	if err := db2.Get(&f2, fingerprint); err != nil {
		t.Fatal(err)
	}
	if f1 != f2 {
		t.Fatalf("got different earned certifications for the same seed (%s vs %s), want the same", f1, f2)
	}
	again, err := benchseed.Seed(ctx, db1, opts)
	if err != nil || !again.AlreadyHad || again.Counts["earned_certifications"] != s1.Counts["earned_certifications"] {
		t.Fatalf("second seed: got %+v, %v; want nothing added", again.Counts, err)
	}

	for name, q := range map[string]string{
		"heavy profiles hold 1,000 earned certifications": `SELECT count(*) = 2 FROM (SELECT e.profile_id FROM earned_certifications e
			JOIN certification_profiles p ON p.id = e.profile_id WHERE p.mcid BETWEEN 500000001 AND 500000300
			GROUP BY e.profile_id HAVING count(*) = 1000) x`,
		"about 70 % of profiles are connected": `SELECT count(*) BETWEEN 0.6 * 300 AND 0.8 * 300 FROM profile_links l
			JOIN certification_profiles p ON p.id = l.certification_profile_id WHERE p.mcid BETWEEN 500000001 AND 500000300`,
		"expiries spread over two years around the reference date": `SELECT min(expires_on) >= '2020-03-01' AND max(expires_on) < '2022-03-02'
			AND count(*) FILTER (WHERE expires_on < '2021-03-01') > 0 AND count(*) FILTER (WHERE expires_on >= '2021-03-01') > 0
			FROM earned_certifications e JOIN certification_profiles p ON p.id = e.profile_id WHERE p.mcid BETWEEN 500000001 AND 500000300`,
		"fundamentals never expire, others expire one year after earning (two after a renewal)": `SELECT bool_and(CASE WHEN c.level = 'FUNDAMENTALS'
			THEN e.expires_on IS NULL ELSE e.expires_on IN ((e.earned_on + interval '1 year')::date, (e.earned_on + interval '2 years')::date,
			((e.earned_on + interval '1 year')::date + interval '1 year')::date) END)
			FROM earned_certifications e JOIN certifications c ON c.id = e.certification_id
			JOIN certification_profiles p ON p.id = e.profile_id WHERE p.mcid BETWEEN 500000001 AND 500000300`,
		"submitted attempts have a score and a verdict matching the passing score": `SELECT count(*) > 0 AND bool_and(
			(t.submitted_at IS NULL) = (t.score IS NULL) AND (t.passed IS NULL OR t.passed = (t.score >= v.passing_score)))
			FROM assessment_attempts t JOIN assessment_versions v ON v.id = t.version_id`,
		"every attempt served the version's question count, answers only when submitted": `SELECT bool_and(n = v.questions_per_attempt AND answered = (t.submitted_at IS NOT NULL))
			FROM assessment_attempts t JOIN assessment_versions v ON v.id = t.version_id
			JOIN LATERAL (SELECT count(*) AS n, bool_and(q.selected IS NOT NULL) AS answered FROM attempt_questions q WHERE q.attempt_id = t.id) q ON true`,
		"attempts start inside their cycle's window, before the reference date": `SELECT bool_and(t.started_at::date >= (t.cycle_expires_on - interval '6 months')::date
			AND t.started_at::date < t.cycle_expires_on AND t.started_at < '2021-03-01') FROM assessment_attempts t`,
		"each renewal follows a passed attempt and extends the cycle by one year": `SELECT count(*) > 0 AND bool_and(t.passed AND r.new_expires_on = (r.previous_expires_on + interval '1 year')::date
			AND r.previous_expires_on = t.cycle_expires_on AND e.expires_on = r.new_expires_on)
			FROM renewals r JOIN assessment_attempts t ON t.id = r.attempt_id JOIN earned_certifications e ON e.id = r.earned_certification_id`,
		"a merge pair's duplicate holds 1,000 certifications and 10,000 exam results": `SELECT count(*) = 1 FROM certification_profiles p
			WHERE (SELECT count(*) FROM earned_certifications e WHERE e.profile_id = p.id) = 1000
			  AND (SELECT count(*) FROM exam_results r WHERE r.profile_id = p.id) = 10000`,
	} {
		var ok bool
		if err := db1.Get(&ok, q); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !ok {
			t.Errorf("%s: got false, want true", name)
		}
	}
	owners, err := benchseed.Owners(ctx, db1, "recert-test")
	if err != nil || len(owners) != 300 {
		t.Fatalf("got %d owners (%v), want 300", len(owners), err)
	}
}

// The seed runs through the server's DSN, which carries the API's per-connection statement
// timeout (DB_STATEMENT_TIMEOUT). On a slower machine a seed step outlasts it; the seed is a
// batch job and must not be cancelled. A trigger makes the earned certifications step last
// longer than the timeout on any machine.
func TestSeedOutlivesTheConnectionStatementTimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	setup, dsn := pgtest.NewWithDSN(t)
	if _, err := setup.Exec(`
CREATE FUNCTION slow_step() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1.5); RETURN NULL; END $$;
CREATE TRIGGER slow_step AFTER INSERT ON earned_certifications FOR EACH STATEMENT EXECUTE FUNCTION slow_step();
-- ALWAYS: the seed's superuser session turns ordinary triggers off (session_replication_role).
ALTER TABLE earned_certifications ENABLE ALWAYS TRIGGER slow_step`); err != nil {
		t.Fatal(err)
	}
	dsn, err := postgres.WithParams(dsn, map[string]string{"statement_timeout": "1000"})
	if err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	opts := benchseed.Options{Profiles: 50, Seed: 3, Ref: date.MustParse("2021-03-01"), Issuer: "recert-test", Heavy: 1, MergePairs: 1}
	s, err := benchseed.Seed(ctx, db, opts)
	if err != nil {
		t.Fatalf("seed: %v", err)
	}
	if s.Counts["earned_certifications"] == 0 {
		t.Fatalf("got %+v, want earned certifications", s.Counts)
	}
	// The session's timeout is back for whoever uses the connection next.
	var timeout string
	if err := db.Get(&timeout, `SHOW statement_timeout`); err != nil || timeout != "1s" {
		t.Fatalf("got statement_timeout %q (%v) after the seed, want 1s", timeout, err)
	}
}

// A seed that fails half way leaves nothing: the next run starts over and succeeds (seeds
// used to commit step by step, and every later run then failed on a duplicate key).
func TestFailedSeedLeavesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := pgtest.New(t)
	// A late step fails: the renewals.
	if _, err := db.Exec(`
CREATE FUNCTION fail_step() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
CREATE TRIGGER fail_step AFTER INSERT ON renewals FOR EACH STATEMENT EXECUTE FUNCTION fail_step();
ALTER TABLE renewals ENABLE ALWAYS TRIGGER fail_step`); err != nil {
		t.Fatal(err)
	}
	opts := benchseed.Options{Profiles: 50, Seed: 4, Ref: date.MustParse("2021-03-01"), Issuer: "recert-test", Heavy: 1, MergePairs: 1}
	if _, err := benchseed.Seed(ctx, db, opts); err == nil {
		t.Fatal("seed with a failing step: got no error")
	}
	var left int
	if err := db.Get(&left, `SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM earned_certifications)`); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Fatalf("got %d accounts and earned certifications after a failed seed, want none", left)
	}
	if _, err := db.Exec(`DROP TRIGGER fail_step ON renewals`); err != nil {
		t.Fatal(err)
	}
	s, err := benchseed.Seed(ctx, db, opts)
	if err != nil || s.AlreadyHad || s.Counts["renewals"] == 0 {
		t.Fatalf("seed after the failure: got %+v, %v; want a complete seed", s, err)
	}
}

// A database left half-seeded by a run from before seeds were atomic is reported with a way
// out, not as a duplicate key.
func TestPartialSeedIsReported(t *testing.T) {
	t.Parallel()
	db := pgtest.New(t)
	// What the first step of an older, interrupted seed 5 left: profile 1's account.
	if _, err := db.Exec(`INSERT INTO accounts (id, issuer, subject, kind, created_at)
VALUES (md5('b5:a:1')::uuid, 'recert-test', 'bench-1', 'PERSONAL', now())`); err != nil {
		t.Fatal(err)
	}
	opts := benchseed.Options{Profiles: 50, Seed: 5, Ref: date.MustParse("2021-03-01"), Issuer: "recert-test", Heavy: 1, MergePairs: 1}
	if _, err := benchseed.Seed(context.Background(), db, opts); !errors.Is(err, benchseed.ErrPartialSeed) {
		t.Fatalf("got %v, want ErrPartialSeed", err)
	}
}
