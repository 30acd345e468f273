package benchseed_test

import (
	"context"
	"testing"

	"github.com/recert/recert/internal/benchseed"
	"github.com/recert/recert/internal/date"
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
