// Package benchseed fills a database with a realistic volume of learners for load benchmarks
// (issue 8): accounts with their Learn profiles, certification profiles (about 70 % connected),
// earned certifications across the shipped catalog with expiries spread over two years around a
// reference date, exam results, renewal assessment attempts with their served questions and
// renewals, a few profiles with 1,000 earned certifications and duplicate profiles to merge.
//
// Everything is set-based SQL (INSERT ... SELECT over generate_series) on one connection, so
// 100,000 profiles take a minute or two, not hours. Every value (ids, names, dates, scores)
// comes from md5 of the seed and the row's position, so the same seed and reference date give
// the same rows. The catalog must be loaded first (server.go's prepare does that).
package benchseed

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/date"
)

// Options says how much to generate.
type Options struct {
	// Profiles is the number of accounts, each with a Learn profile and one certification
	// profile (default 100,000).
	Profiles int
	// Seed makes the data deterministic: the same seed and Ref give the same rows.
	Seed int64
	// Ref is the reference date expiries are spread around (two years: Ref-365d .. Ref+365d).
	Ref date.Date
	// Issuer is the `iss` of the accounts (the server's AUTH_ISSUER), so tokens minted for
	// their subjects sign in as them.
	Issuer string
	// Heavy is how many profiles hold 1,000 earned certifications (default 10).
	Heavy int
	// MergePairs is how many survivor/duplicate pairs with a 1,000-certification,
	// 10,000-exam-result duplicate are made (default 5).
	MergePairs int
	// Duplicates is how many light duplicate profiles (same person, second account) are
	// made (default 2,000).
	Duplicates int
	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
}

// MCIDBase is added to a bench profile's number to give its MCID (below mcid_seq's range, so
// profiles created later through the API never collide).
const MCIDBase = 500_000_000

// HeavyEarned is the number of earned certifications of a heavy profile.
const HeavyEarned = 1000

// MergeExamResults is the number of exam results of a merge fixture's duplicate.
const MergeExamResults = 10_000

// SubjectPrefix starts the `sub` of every bench account: profile i's owner is SubjectPrefix+i.
const SubjectPrefix = "bench-"

func (o *Options) defaults() {
	if o.Profiles <= 0 {
		o.Profiles = 100_000
	}
	if o.Heavy < 0 {
		o.Heavy = 0
	}
	if o.Heavy == 0 && o.Profiles >= 1000 {
		o.Heavy = 10
	}
	if o.Heavy > o.Profiles {
		o.Heavy = o.Profiles
	}
	if o.MergePairs == 0 {
		o.MergePairs = 5
	}
	if o.Duplicates == 0 {
		o.Duplicates = o.Profiles / 50
	}
	if o.Ref.IsZero() {
		o.Ref = date.Of(time.Now().UTC())
	}
	if o.Issuer == "" {
		o.Issuer = "recert-dev"
	}
	if o.Log == nil {
		o.Log = func(string, ...any) {}
	}
}

// Summary counts what a database holds after seeding.
type Summary struct {
	Seed       int64
	Ref        date.Date
	Profiles   int
	Counts     map[string]int64
	Took       time.Duration
	AlreadyHad bool // the database was seeded before; nothing was added
}

// ErrPartialSeed means the database holds rows of a bench seed that did not complete (one
// interrupted before seeds ran in a single transaction).
var ErrPartialSeed = errors.New("benchseed: the database holds a partial bench seed from an interrupted run; " +
	"drop the database (with the embedded PostgreSQL: delete DATA_DIR/postgres) and seed again")

// ErrNoCatalog means the catalog is not loaded (run the migrations and catalog load first).
var ErrNoCatalog = errors.New("benchseed: the catalog is empty; migrate and load the catalog first")

// Seed fills db. If the database already holds a bench seed it adds nothing and reports what
// is there (Summary.AlreadyHad), so running it twice is harmless.
func Seed(ctx context.Context, db *sqlx.DB, o Options) (Summary, error) {
	o.defaults()
	start := time.Now()
	conn, err := db.Connx(ctx)
	if err != nil {
		return Summary{}, err
	}
	defer conn.Close()
	// Seeding is a batch job: the per-connection timeouts the server's DSN carries for API
	// requests (DB_STATEMENT_TIMEOUT, DB_IDLE_IN_TX_TIMEOUT) would cancel a step on a slower
	// machine. Off for this session only; the first statement, so nothing runs under them.
	if _, err := conn.ExecContext(ctx, `SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0`); err != nil {
		return Summary{}, fmt.Errorf("seed timeouts: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `RESET statement_timeout; RESET idle_in_transaction_session_timeout`)
	if _, err := conn.ExecContext(ctx, infoTableSQL); err != nil {
		return Summary{}, fmt.Errorf("bench_seed_info: %w", err)
	}
	var prev struct {
		Seed     int64     `db:"seed"`
		Ref      time.Time `db:"ref"`
		Profiles int       `db:"profiles"`
	}
	err = conn.GetContext(ctx, &prev, `SELECT seed, ref, profiles FROM bench_seed_info LIMIT 1`)
	if err == nil {
		s := Summary{Seed: prev.Seed, Ref: date.Of(prev.Ref), Profiles: prev.Profiles, AlreadyHad: true}
		s.Counts, err = counts(ctx, conn)
		s.Took = time.Since(start)
		return s, err
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return Summary{}, err
	}
	var certs int
	if err := conn.GetContext(ctx, &certs, `SELECT count(*) FROM certifications`); err != nil {
		return Summary{}, err
	}
	if certs == 0 {
		return Summary{}, ErrNoCatalog
	}
	// Seeds before this one committed step by step: one that failed half way left rows that
	// make every later attempt fail on a duplicate key. Say so instead.
	var partial bool
	if err := conn.GetContext(ctx, &partial, `SELECT EXISTS (SELECT 1 FROM accounts WHERE id = md5($1)::uuid)`,
		"b"+strconv.FormatInt(o.Seed, 10)+":a:1"); err != nil {
		return Summary{}, err
	}
	if partial {
		return Summary{}, ErrPartialSeed
	}
	if _, err := conn.ExecContext(ctx, `SET synchronous_commit = off; SET TIME ZONE 'UTC'; SET jit = off`); err != nil {
		return Summary{}, err
	}
	// The rows reference each other correctly by construction, so a superuser connection
	// skips the per-row foreign key triggers (the bulk of the insert time); others keep them.
	if _, err := conn.ExecContext(ctx, `SET session_replication_role = replica`); err != nil {
		o.Log("seed: foreign key checks stay on (%v)", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `RESET session_replication_role`)
	vars := map[string]string{
		"{{k}}":           pq.QuoteLiteral("b" + strconv.FormatInt(o.Seed, 10) + ":"),
		"{{ref}}":         pq.QuoteLiteral(o.Ref.String()) + "::date",
		"{{issuer}}":      pq.QuoteLiteral(o.Issuer),
		"{{subject}}":     pq.QuoteLiteral(SubjectPrefix),
		"{{profiles}}":    strconv.Itoa(o.Profiles),
		"{{heavy}}":       strconv.Itoa(o.Heavy),
		"{{heavyN}}":      strconv.Itoa(HeavyEarned),
		"{{dups}}":        strconv.Itoa(o.Duplicates),
		"{{mcidBase}}":    strconv.Itoa(MCIDBase),
		"{{seed}}":        strconv.FormatInt(o.Seed, 10),
		"{{dupMcidBase}}": strconv.Itoa(MCIDBase + 400_000_000),
	}
	if _, err := conn.ExecContext(ctx, expand(helpersSQL, vars)); err != nil {
		return Summary{}, fmt.Errorf("seed helpers: %w", err)
	}
	var nc struct {
		Certs int `db:"certs"`
		Exams int `db:"exams"`
	}
	if err := conn.GetContext(ctx, &nc, `SELECT (SELECT count(*) FROM bc) AS certs, (SELECT count(*) FROM bx) AS exams`); err != nil {
		return Summary{}, err
	}
	vars["{{ncert}}"], vars["{{nexam}}"] = strconv.Itoa(nc.Certs), strconv.Itoa(nc.Exams)
	// One transaction: a seed that fails or is interrupted leaves nothing behind, so the next
	// run starts over instead of tripping on the rows of the last one.
	if _, err := conn.ExecContext(ctx, `BEGIN`); err != nil {
		return Summary{}, err
	}
	committed := false
	defer func() {
		if !committed {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		}
	}()
	for _, st := range seedSteps {
		t := time.Now()
		if _, err := conn.ExecContext(ctx, expand(st.sql, vars)); err != nil {
			return Summary{}, fmt.Errorf("seed step %s: %w", st.name, err)
		}
		o.Log("seed %-22s %6.1fs", st.name, time.Since(t).Seconds())
	}
	for i := 0; i < o.MergePairs; i++ {
		if _, err := mergeFixture(ctx, conn, o.Ref, "seed-"+strconv.FormatInt(o.Seed, 10), i); err != nil {
			return Summary{}, err
		}
	}
	o.Log("seed %-22s done", "merge fixtures")
	if _, err := conn.ExecContext(ctx, `INSERT INTO bench_seed_info (seed, ref, profiles, seeded_at) VALUES ($1, $2, $3, $4)`,
		o.Seed, o.Ref.String(), o.Profiles, time.Now().UTC()); err != nil {
		return Summary{}, err
	}
	t := time.Now()
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		return Summary{}, fmt.Errorf("commit: %w", err)
	}
	committed = true
	o.Log("seed %-22s %6.1fs", "commit", time.Since(t).Seconds())
	t = time.Now()
	if _, err := conn.ExecContext(ctx, `ANALYZE`); err != nil {
		return Summary{}, fmt.Errorf("analyze: %w", err)
	}
	o.Log("seed %-22s %6.1fs", "analyze", time.Since(t).Seconds())
	s := Summary{Seed: o.Seed, Ref: o.Ref, Profiles: o.Profiles, Took: time.Since(start)}
	s.Counts, err = counts(ctx, conn)
	return s, err
}

type step struct{ name, sql string }

func expand(s string, vars map[string]string) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, k, v)
	}
	return s
}

// infoTableSQL records that (and how) a database was seeded. It is not part of the schema:
// it exists only in bench databases.
const infoTableSQL = `CREATE TABLE IF NOT EXISTS bench_seed_info (
    seed bigint NOT NULL, ref date NOT NULL, profiles int NOT NULL, seeded_at timestamptz NOT NULL)`

// Tables counted in a Summary.
var countedTables = []string{"accounts", "certification_profiles", "profile_links", "earned_certifications",
	"exam_results", "assessment_attempts", "attempt_questions", "renewals"}

func counts(ctx context.Context, conn *sqlx.Conn) (map[string]int64, error) {
	out := make(map[string]int64, len(countedTables))
	for _, t := range countedTables {
		var n int64
		if err := conn.GetContext(ctx, &n, `SELECT count(*) FROM `+t); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, nil
}

// helpersSQL defines the session's deterministic helpers: h(key) is a non-negative integer
// hashed with the seed (hashtextextended is stable: hash partitioning relies on it), u(key) a
// uuid from md5 of the key prefixed with the seed ({{k}}).
const helpersSQL = `
CREATE OR REPLACE FUNCTION pg_temp.h(k text) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN hashtextextended(k, {{seed}}) & 9223372036854775807;
CREATE OR REPLACE FUNCTION pg_temp.u(k text) RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN md5({{k}} || k)::uuid;
DROP TABLE IF EXISTS pg_temp.bc, pg_temp.bx, pg_temp.bv, pg_temp.bq, pg_temp.ge, pg_temp.ga;
-- The catalog, numbered: certifications (renewable ones have a current assessment version).
CREATE TEMP TABLE bc AS
SELECT (row_number() OVER (ORDER BY c.code) - 1)::int AS ord, c.id, c.level = 'FUNDAMENTALS' AS fundamentals,
       v.id AS version_id, v.questions_per_attempt AS qpa, v.passing_score AS passing, v.languages[1] AS lang
FROM certifications c
LEFT JOIN renewal_assessments a ON a.certification_id = c.id
LEFT JOIN LATERAL (SELECT * FROM assessment_versions v WHERE v.assessment_id = a.id
                   ORDER BY v.version DESC LIMIT 1) v ON true;
CREATE TEMP TABLE bx AS
SELECT (row_number() OVER (ORDER BY code) - 1)::int AS ord, code, languages[1] AS lang FROM exams;
-- Each version's bank, numbered, with its choices in order, the correct ones and a wrong one.
CREATE TEMP TABLE bq AS
SELECT q.version_id, (row_number() OVER (PARTITION BY q.version_id ORDER BY q.position) - 1)::int AS idx,
       q.id AS question_id,
       (SELECT array_agg(ch.id ORDER BY ch.position) FROM assessment_choices ch WHERE ch.question_id = q.id) AS choice_order,
       (SELECT array_agg(ch.id ORDER BY ch.position) FROM assessment_choices ch WHERE ch.question_id = q.id AND ch.correct) AS correct,
       (SELECT array_agg(ch.id ORDER BY ch.position) FROM
          (SELECT * FROM assessment_choices ch WHERE ch.question_id = q.id AND NOT ch.correct ORDER BY ch.position LIMIT 1) ch) AS wrong
FROM assessment_questions q;
CREATE TEMP TABLE bv AS SELECT version_id, count(*)::int AS bank FROM bq GROUP BY version_id;
`

// seedSteps are run in order with {{...}} expanded. Profile i (1..profiles) belongs to account
// i; profiles 1..heavy hold HeavyEarned earned certifications each.
var seedSteps = []step{
	{"accounts", `
INSERT INTO accounts (id, issuer, subject, kind, email, display_name, created_at)
SELECT pg_temp.u('a:' || i), {{issuer}}, {{subject}} || i, 'PERSONAL',
       'learner' || i || '@example.com', n.first || ' ' || n.last,
       ({{ref}} - 1100)::timestamptz + make_interval(secs => pg_temp.h('ac:' || i) % 31536000)
FROM generate_series(1, {{profiles}} + {{dups}}) i
CROSS JOIN LATERAL (SELECT
   (ARRAY['Aiko','Akira','Anna','Ben','Carlos','Chen','Chloé','Daniel','Dmitri','Elena','Emma','Fatima','François',
          'Hana','Hiroshi','Ines','Ivan','Jamal','José','Julia','Kenji','Lars','Laura','Léa','Liam','Lucía','Maria',
          'Mateo','Mei','Mohammed','Noah','Olga','Omar','Priya','Rafael','Sakura','Sara','Søren','Takumi','Thomas',
          'Yuki','Zoë','Ömer','Björn','Ana','Raj','Kim','Sofia','Lukas','Nina'])[1 + pg_temp.h('fn:' || (CASE WHEN i > {{profiles}} THEN i - {{profiles}} ELSE i END)) % 50] AS first,
   (ARRAY['Tanaka','Suzuki','Sato','Smith','Johnson','Müller','García','Martínez','Rossi','Dubois','Nowak','Kowalski',
          'Ivanov','Nguyen','Kim','Lee','Wang','Li','Zhang','Chen','Singh','Patel','Khan','Ali','Silva','Santos',
          'Pereira','Jensen','Hansen','Nielsen','Andersson','Johansson','Larsen','Schmidt','Schneider','Fischer',
          'Weber','Meyer','Wagner','Becker','Yamamoto','Nakamura','Kobayashi','Watanabe','Ito','Brown','Taylor',
          'O''Brien','Núñez','Łukasiewicz'])[1 + pg_temp.h('ln:' || (CASE WHEN i > {{profiles}} THEN i - {{profiles}} ELSE i END)) % 50] AS last) n`},
	{"learn profiles", `
INSERT INTO learn_profiles (id, account_id, created_at)
SELECT pg_temp.u('lp:' || i), pg_temp.u('a:' || i), a.created_at
FROM generate_series(1, {{profiles}} + {{dups}}) i JOIN accounts a ON a.id = pg_temp.u('a:' || i)`},
	// Profiles profiles+1.. are duplicates: the same person (same name) on a second account,
	// registered again with another email; they are the bulk of what support merges.
	{"certification profiles", `
INSERT INTO certification_profiles (id, mcid, account_id, legal_name, email, preferred_language, status, created_at)
SELECT pg_temp.u('cp:' || i),
       CASE WHEN i <= {{profiles}} THEN {{mcidBase}} + i ELSE {{dupMcidBase}} + i END,
       a.id, a.display_name,
       CASE WHEN i <= {{profiles}} THEN a.email ELSE 'learner' || (i - {{profiles}}) || '.old@example.net' END,
       (ARRAY['en','ja','de','fr','es','ko','zh-Hans','pt-BR'])[1 + pg_temp.h('pl:' || i) % 8],
       'ACTIVE', a.created_at + interval '1 hour'
FROM generate_series(1, {{profiles}} + {{dups}}) i JOIN accounts a ON a.id = pg_temp.u('a:' || i)`},
	{"profile links", `
INSERT INTO profile_links (learn_profile_id, certification_profile_id, account_id, linked_at)
SELECT pg_temp.u('lp:' || i), pg_temp.u('cp:' || i), pg_temp.u('a:' || i),
       ({{ref}} - 1100)::timestamptz + make_interval(secs => 31536000 + pg_temp.h('lt:' || i) % 31536000)
FROM generate_series(1, {{profiles}} + {{dups}}) i
WHERE pg_temp.h('lk:' || i) % 10 < 7`},
	// ge: every earned certification to create, with what the attempts step needs to know.
	// Light profiles hold 1..9 distinct certifications (stride 7 over the 23 of the catalog);
	// expiries are spread uniformly over Ref-365 .. Ref+364. About 12 % of the renewable ones
	// were renewed once (earned two years before expiry, attempts in the previous cycle).
	{"earned (plan)", `
CREATE TEMP TABLE ge AS
SELECT pg_temp.u('e:' || p.i || ':' || j) AS id, pg_temp.u('cp:' || p.i) AS profile_id, p.i, j,
       c.id AS certification_id, c.fundamentals, c.version_id, c.qpa, c.passing, c.lang,
       CASE WHEN c.fundamentals THEN NULL
            WHEN r.renewed THEN ((x.e - interval '1 year')::date + interval '1 year')::date
            ELSE x.e END AS expires_on,
       r.renewed,
       pg_temp.h('at:' || p.i || ':' || j) % 100 AS pick,
       pg_temp.h('fd:' || p.i || ':' || j) % 1500 AS back
FROM (SELECT i, CASE WHEN i <= {{heavy}} THEN {{heavyN}}
                     WHEN i > {{profiles}} THEN 1 + pg_temp.h('dc:' || i) % 3
                     ELSE 1 + pg_temp.h('ec:' || i) % 9 END::int AS n
      FROM generate_series(1, {{profiles}} + {{dups}}) i) p
CROSS JOIN LATERAL generate_series(1, p.n) j
CROSS JOIN LATERAL (SELECT ((pg_temp.h('co:' || p.i) + j * 7) % {{ncert}})::int AS ord) o
JOIN bc c ON c.ord = o.ord
CROSS JOIN LATERAL (SELECT {{ref}} - 365 + (pg_temp.h('x:' || p.i || ':' || j) % 730)::int AS e) x
CROSS JOIN LATERAL (SELECT NOT c.fundamentals AND c.version_id IS NOT NULL
                           AND pg_temp.h('rn:' || p.i || ':' || j) % 100 < 12 AS renewed) r`},
	{"earned certifications", `
INSERT INTO earned_certifications (id, profile_id, certification_id, earned_on, expires_on, created_at)
SELECT id, profile_id, certification_id, e.earned_on, expires_on, e.earned_on::timestamptz + interval '13 hours'
FROM (SELECT ge.*, CASE WHEN fundamentals THEN {{ref}} - back::int
                        WHEN renewed THEN (expires_on - interval '2 years')::date
                        ELSE (expires_on - interval '1 year')::date END AS earned_on FROM ge) e`},
	// Exam results: 1..19 per profile (about 10 on average: 1,000,000 for 100,000 profiles).
	{"exam results", `
INSERT INTO exam_results (id, profile_id, exam_code, passed, score, taken_at, language, external_id, recorded_at)
SELECT pg_temp.u('r:' || p.i || ':' || j), pg_temp.u('cp:' || p.i), x.code, r.passed,
       CASE WHEN r.passed THEN 700 + pg_temp.h('sc:' || p.i || ':' || j) % 301 ELSE 200 + pg_temp.h('sc:' || p.i || ':' || j) % 500 END,
       r.taken_at, x.lang, 'bench-{{seed}}-' || p.i || '-' || j, r.taken_at + interval '1 hour'
FROM (SELECT i, (1 + pg_temp.h('rc:' || i) % 19)::int AS n FROM generate_series(1, {{profiles}}) i) p
CROSS JOIN LATERAL generate_series(1, p.n) j
CROSS JOIN LATERAL (SELECT pg_temp.h('rp:' || p.i || ':' || j) % 10 < 7 AS passed,
        ({{ref}})::timestamptz - make_interval(secs => pg_temp.h('rt:' || p.i || ':' || j) % 94608000) AS taken_at,
        (pg_temp.h('rx:' || p.i || ':' || j) % {{nexam}})::int AS ord) r
JOIN bx x ON x.ord = r.ord`},
	// ga: attempts to create. Three kinds, all following docs/domain.md "Renewal":
	//  R renewed certifications: 1..3 attempts in the previous cycle, the last one passed;
	//  W inside the current window (not expired): 1..3 attempts in the last days, the last
	//    one in progress for a third of them;
	//  X expired without renewing: 1..2 failed attempts in the last weeks before expiry.
	// Attempts are two days apart, so the 24-hour wait always held.
	{"attempts (plan)", `
CREATE TEMP TABLE ga AS
WITH k AS (
  SELECT ge.*,
    CASE WHEN renewed THEN 'R'
         WHEN expires_on > {{ref}} AND (expires_on - interval '6 months')::date <= {{ref}} - 8 AND pick < 40 THEN 'W'
         WHEN expires_on <= {{ref}} AND pick < 10 THEN 'X' END AS kind
  FROM ge WHERE NOT fundamentals AND version_id IS NOT NULL)
SELECT k.id AS earned_id, k.i, k.j, k.version_id, k.qpa, k.passing, k.lang, k.kind, n.n, a.a,
       pg_temp.u('t:' || k.i || ':' || k.j || ':' || a.a) AS attempt_id,
       CASE k.kind WHEN 'R' THEN (k.expires_on - interval '1 year')::date ELSE k.expires_on END AS cycle,
       CASE k.kind
         WHEN 'R' THEN (k.expires_on - interval '1 year')::date - 60 + (a.a - 1) * 2
         WHEN 'W' THEN {{ref}} - (n.n - a.a + 1) * 2
         ELSE k.expires_on - 20 + (a.a - 1) * 2 END::timestamptz
         + make_interval(secs => 28800 + pg_temp.h('ts:' || k.i || ':' || k.j || ':' || a.a) % 36000) AS started_at,
       CASE WHEN k.kind = 'W' AND a.a = n.n AND k.pick % 3 = 0 THEN false ELSE true END AS submitted,
       CASE WHEN k.kind = 'R' AND a.a = n.n THEN 5 + pg_temp.h('ok:' || k.i || ':' || k.j) % 4
            ELSE pg_temp.h('ok:' || k.i || ':' || k.j || ':' || a.a) % 5 END AS ncorrect
FROM k
CROSS JOIN LATERAL (SELECT CASE k.kind WHEN 'X' THEN 1 + pg_temp.h('an:' || k.i || ':' || k.j) % 2
                                       ELSE 1 + pg_temp.h('an:' || k.i || ':' || k.j) % 3 END::int AS n) n
CROSS JOIN LATERAL generate_series(1, n.n) a(a)
WHERE k.kind IS NOT NULL`},
	{"assessment attempts", `
INSERT INTO assessment_attempts (id, earned_certification_id, version_id, language, cycle_expires_on, started_at,
                                 submitted_at, score, passed)
SELECT attempt_id, earned_id, version_id, lang, cycle, started_at,
       CASE WHEN submitted THEN started_at + interval '25 minutes' END,
       CASE WHEN submitted THEN round(100.0 * ncorrect / qpa)::int END,
       CASE WHEN submitted THEN round(100.0 * ncorrect / qpa)::int >= passing END
FROM ga`},
	// The questions each attempt served: qpa consecutive questions of the bank from a
	// per-attempt offset; answered attempts chose the correct choices for the first ncorrect
	// of them and a wrong choice for the rest, so the stored score matches the answers.
	{"attempt questions", `
INSERT INTO attempt_questions (attempt_id, question_id, position, choice_order, selected)
SELECT ga.attempt_id, q.question_id, s.k + 1, q.choice_order,
       CASE WHEN NOT ga.submitted THEN NULL WHEN s.k < ga.ncorrect THEN q.correct ELSE coalesce(q.wrong, '{}') END
FROM ga
JOIN bv ON bv.version_id = ga.version_id
CROSS JOIN LATERAL generate_series(0, ga.qpa - 1) s(k)
JOIN bq q ON q.version_id = ga.version_id
         AND q.idx = (pg_temp.h('qo:' || ga.attempt_id) + s.k) % bv.bank`},
	{"renewals", `
INSERT INTO renewals (id, earned_certification_id, attempt_id, renewed_at, previous_expires_on, new_expires_on)
SELECT pg_temp.u('rw:' || ga.attempt_id), ga.earned_id, ga.attempt_id, ga.started_at + interval '25 minutes',
       ga.cycle, (ga.cycle + interval '1 year')::date
FROM ga WHERE ga.kind = 'R' AND ga.a = ga.n`},
}
