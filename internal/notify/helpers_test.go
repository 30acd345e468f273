package notify_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/postgres"
)

const publicURL = "https://recert.example"

// recorder is a Mailer that keeps what it was asked to send; it fails while failing is set.
type recorder struct {
	mu      sync.Mutex
	sent    []notify.Message
	failing bool
	calls   int
}

func (r *recorder) Send(_ context.Context, m notify.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.failing {
		return errors.New("451 4.3.0 mail system busy")
	}
	r.sent = append(r.sent, m)
	return nil
}

func (r *recorder) setFailing(v bool) { r.mu.Lock(); r.failing = v; r.mu.Unlock() }

func (r *recorder) messages() []notify.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Message(nil), r.sent...)
}

// fixture is a test server with an outbox on its database and clock.
type fixture struct {
	t      testing.TB
	env    *apitest.Env
	store  *postgres.Store
	mail   *recorder
	outbox *notify.Outbox
	reg    *prometheus.Registry // the main outbox's metrics
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	env := apitest.New(t)
	f := &fixture{t: t, env: env, store: env.Server.Store, mail: &recorder{}, reg: prometheus.NewRegistry()}
	f.outbox = f.newOutboxWith(f.mail, notify.NewMetrics(f.reg))
	return f
}

// metric reads a counter of the main outbox (with the given label value, if any).
func (f *fixture) metric(name, label string) float64 {
	f.t.Helper()
	families, err := f.reg.Gather()
	if err != nil {
		f.t.Fatal(err)
	}
	for _, fam := range families {
		if fam.GetName() != name {
			continue
		}
		for _, m := range fam.GetMetric() {
			if label == "" || (len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == label) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// newOutbox builds another outbox (another "instance") on the same database and clock.
func (f *fixture) newOutbox(m notify.Mailer) *notify.Outbox {
	f.t.Helper()
	return f.newOutboxWith(m, nil)
}

func (f *fixture) newOutboxWith(m notify.Mailer, metrics *notify.Metrics) *notify.Outbox {
	f.t.Helper()
	o, err := notify.NewOutbox(postgres.Notify{Store: f.store}, f.env.Clock, notify.OutboxConfig{
		Mailer: m, PublicURL: publicURL, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Metrics: metrics,
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return o
}

// profile creates a certification profile through the API for a new personal account and
// returns its id and MCID.
func (f *fixture) profile(sub, lang string) (uuid.UUID, string) {
	f.t.Helper()
	var out struct {
		CreateCertificationProfile struct {
			CertificationProfile struct{ MCID string }
		}
	}
	vars := map[string]any{"name": "Learner " + sub, "email": sub + "@example.com", "lang": lang}
	f.env.MustDo(apitest.Learner(sub), `mutation($name: String!, $email: String!, $lang: String) {
  createCertificationProfile(input: {legalName: $name, email: $email, preferredLanguage: $lang}) { certificationProfile { mcid } } }`,
		vars, &out)
	mcid := out.CreateCertificationProfile.CertificationProfile.MCID
	var id uuid.UUID
	if err := f.env.DB.Get(&id, `SELECT id FROM certification_profiles WHERE mcid = $1::bigint`, mcid); err != nil {
		f.t.Fatal(err)
	}
	return id, mcid
}

// examsFor are the exams that earn a certification through recordExamResult, as exam
// delivery reports them (devops-engineer-expert also needs azure-administrator-associate or
// azure-developer-associate held on the day).
var examsFor = map[string][]string{
	"azure-administrator-associate":     {"AZ-104"},
	"azure-developer-associate":         {"AZ-204"},
	"azure-security-engineer-associate": {"AZ-500"},
	"azure-data-engineer-associate":     {"DP-203"},
	"devops-engineer-expert":            {"AZ-400"},
	"azure-fundamentals":                {"AZ-900"},
	"azure-data-fundamentals":           {"DP-900"},
}

const recordMutation = `mutation($in: RecordExamResultInput!) {
  recordExamResult(input: $in) { earnedCertifications { certification { code } earnedOn expiresOn } } }`

// earn makes the profile earn a certification on earnedOn by recording its exam passes as
// exam delivery (recordExamResult), and returns the earned certification's id. The clock is
// moved forward to that day when it is earlier (results cannot come from the future).
func (f *fixture) earn(profile uuid.UUID, code, earnedOn string) uuid.UUID {
	f.t.Helper()
	exams, ok := examsFor[code]
	if !ok {
		return f.insertEarned(profile, code, earnedOn)
	}
	on := date.MustParse(earnedOn)
	takenAt := on.Time().Add(8 * time.Hour)
	if f.env.Clock.Now().Before(takenAt) {
		f.env.Clock.Set(takenAt.Add(time.Hour))
	}
	var mcid string
	if err := f.env.DB.Get(&mcid, `SELECT mcid::text FROM certification_profiles WHERE id = $1`, profile); err != nil {
		f.t.Fatal(err)
	}
	var out struct {
		RecordExamResult struct {
			EarnedCertifications []struct{ Certification struct{ Code string } }
		}
	}
	for _, exam := range exams {
		f.env.MustDo(apitest.ExamDelivery(), recordMutation, map[string]any{"in": map[string]any{
			"mcid": mcid, "examCode": exam, "passed": true, "score": 800, "takenAt": takenAt.Format(time.RFC3339),
			"language": "en", "externalId": uuid.NewString()}}, &out)
	}
	if got := out.RecordExamResult.EarnedCertifications; len(got) != 1 || got[0].Certification.Code != code {
		f.t.Fatalf("recordExamResult %v on %s: got %+v earned, want %s", exams, earnedOn, got, code)
	}
	var id uuid.UUID
	if err := f.env.DB.Get(&id, `SELECT e.id FROM earned_certifications e JOIN certifications c ON c.id = e.certification_id
WHERE e.profile_id = $1 AND c.code = $2 AND e.earned_on = $3`, profile, code, on); err != nil {
		f.t.Fatalf("earned %s: %v", code, err)
	}
	return id
}

// insertEarned writes an earned certification directly, for what no exam earns (a test
// certification): it expires a year after earnedOn, except fundamentals.
func (f *fixture) insertEarned(profile uuid.UUID, code, earnedOn string) uuid.UUID {
	f.t.Helper()
	on := date.MustParse(earnedOn)
	var id uuid.UUID
	err := f.env.DB.Get(&id, `
INSERT INTO earned_certifications (profile_id, certification_id, earned_on, expires_on, created_at)
SELECT $1, c.id, $2, CASE WHEN c.level = 'FUNDAMENTALS' THEN NULL ELSE $3::date END, $4
FROM certifications c WHERE c.code = $5
RETURNING id`, profile, on, on.AddYears(1), on.Time(), code)
	if err != nil {
		f.t.Fatalf("earn %s: %v", code, err)
	}
	return id
}

// renew moves an earned certification's expiry one year on, as passing the renewal
// assessment does.
func (f *fixture) renew(earned uuid.UUID) {
	f.t.Helper()
	var exp date.Date
	if err := f.env.DB.Get(&exp, `SELECT expires_on FROM earned_certifications WHERE id = $1`, earned); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.env.DB.Exec(`UPDATE earned_certifications SET expires_on = $2 WHERE id = $1`, earned, exp.AddYears(1)); err != nil {
		f.t.Fatal(err)
	}
}

// at moves the clock to 09:00 UTC on day.
func (f *fixture) at(day string) {
	f.env.Clock.Set(date.MustParse(day).Time().Add(9 * time.Hour))
}

// pass runs one scheduling and sending pass at the clock's time.
func (f *fixture) pass() notify.PassResult {
	f.t.Helper()
	res, err := f.outbox.RunOnce(context.Background())
	if err != nil {
		f.t.Fatalf("pass at %s: %v", f.env.Clock.Now(), err)
	}
	return res
}

// days runs a pass at 09:00 on every day from first to last, inclusive.
func (f *fixture) days(first, last string) {
	f.t.Helper()
	for d := date.MustParse(first); !d.After(date.MustParse(last)); d = d.AddDays(1) {
		f.at(d.String())
		f.pass()
	}
}

// row is a notification as stored.
type row struct {
	Earned       uuid.UUID  `db:"earned_certification_id"`
	Cycle        date.Date  `db:"cycle_expires_on"`
	Sequence     int        `db:"sequence"`
	Kind         string     `db:"kind"`
	Email        string     `db:"email"`
	ScheduledFor time.Time  `db:"scheduled_for"`
	SentAt       *time.Time `db:"sent_at"`
	Attempts     int        `db:"delivery_attempts"`
	NextAttempt  time.Time  `db:"next_attempt_at"`
	LastError    *string    `db:"last_error"`
	CancelReason *string    `db:"cancel_reason"`
}

func (f *fixture) rows(earned uuid.UUID) []row {
	f.t.Helper()
	var rs []row
	if err := f.env.DB.Select(&rs, `SELECT earned_certification_id, cycle_expires_on, sequence, kind, email,
       scheduled_for, sent_at, delivery_attempts, next_attempt_at, last_error, cancel_reason
FROM notifications WHERE earned_certification_id = $1 ORDER BY cycle_expires_on, sequence`, earned); err != nil {
		f.t.Fatal(err)
	}
	return rs
}

func (f *fixture) count(query string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.env.DB.Get(&n, query, args...); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// want is an expected notification: cycle, sequence, kind, the day it was due and the day
// it was sent ("" for never).
type want struct {
	cycle, kind, due, sent string
	seq                    int
}

func checkRows(t *testing.T, got []row, wants []want) {
	t.Helper()
	if len(got) != len(wants) {
		t.Fatalf("got %d notifications %+v, want %d", len(got), got, len(wants))
	}
	for i, w := range wants {
		g := got[i]
		sent := ""
		if g.SentAt != nil {
			sent = date.Of(*g.SentAt).String()
		}
		if g.Cycle.String() != w.cycle || g.Sequence != w.seq || g.Kind != w.kind ||
			!g.ScheduledFor.Equal(date.MustParse(w.due).Time()) || sent != w.sent {
			t.Errorf("notification %d: got cycle %s seq %d %s due %s sent %q, want cycle %s seq %d %s due %s sent %q",
				i+1, g.Cycle, g.Sequence, g.Kind, g.ScheduledFor.Format(time.RFC3339), sent, w.cycle, w.seq, w.kind, w.due, w.sent)
		}
	}
}
