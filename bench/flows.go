package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/benchseed"
	"github.com/recert/recert/internal/date"
)

// renewalCandidatesSQL finds bench certifications a renewal can start on today: inside the
// window, not expired, renewable, on a connected profile, with no attempt yet.
const renewalCandidatesSQL = `
SELECT e.id, a.subject, coalesce(a.email, '') AS email, coalesce(a.display_name, '') AS display_name
FROM earned_certifications e
JOIN certification_profiles p ON p.id = e.profile_id AND p.status = 'ACTIVE'
JOIN profile_links l ON l.certification_profile_id = p.id
JOIN accounts a ON a.id = p.account_id
JOIN renewal_assessments ra ON ra.certification_id = e.certification_id
JOIN certifications c ON c.id = e.certification_id
WHERE e.superseded_at IS NULL AND e.expires_on > $1::date + 2
  AND (e.expires_on - interval '6 months')::date <= $1::date
  AND (c.released_on + interval '6 months')::date <= $1::date
  AND a.issuer = $2 AND a.subject LIKE 'bench-%'
  AND NOT EXISTS (SELECT 1 FROM assessment_attempts t WHERE t.earned_certification_id = e.id)
ORDER BY md5(e.id::text || $3)
LIMIT $4`

const startMutation = `mutation Start($in: StartRenewalAssessmentInput!) { startRenewalAssessment(input: $in) {
  attempt { id assessmentVersion language questions { id multipleAnswers choices { id text } } } } }`

const submitMutation = `mutation Submit($in: SubmitRenewalAssessmentInput!) { submitRenewalAssessment(input: $in) {
  attempt { id score passed submittedAt } earnedCertification { id expiresOn status renewal { eligible reason } } } }`

// rawUUID reads the uuid behind an API id: a plain uuid, or base64url of "Kind:uuid".
func rawUUID(id string) (uuid.UUID, error) {
	if u, err := uuid.Parse(id); err == nil {
		return u, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil {
		return uuid.Nil, fmt.Errorf("id %q is neither a uuid nor base64url", id)
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		s = s[i+1:]
	}
	return uuid.Parse(s)
}

// renewal runs start/submit cycles as the owners, 8 at a time; every cycle answers correctly
// (the bench reads the correct choices from the database), so it renews the certification.
func (e *env) renewal(ctx context.Context) error {
	today := date.Of(time.Now().UTC())
	var cands []struct {
		ID      uuid.UUID `db:"id"`
		Subject string    `db:"subject"`
		Email   string    `db:"email"`
		Name    string    `db:"display_name"`
	}
	if err := e.db.SelectContext(ctx, &cands, renewalCandidatesSQL, today.String(), e.cfg.Issuer,
		strconv.FormatInt(time.Now().UnixNano(), 10), e.o.renewals); err != nil {
		return err
	}
	if len(cands) == 0 {
		return fmt.Errorf("no certification inside its renewal window without attempts is left")
	}
	correct := map[uuid.UUID][]string{}
	rows, err := e.db.QueryContext(ctx, `SELECT question_id, id FROM assessment_choices WHERE correct`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var q, c uuid.UUID
		if err := rows.Scan(&q, &c); err != nil {
			rows.Close()
			return err
		}
		correct[q] = append(correct[q], c.String())
	}
	rows.Close()
	// Choice ids in the API: the same encoding as the question ids the server returns.
	url := "http://" + e.recert.addr + "/graphql"
	client := &http.Client{Timeout: 30 * time.Second}
	var start, submit, cycle timed
	w := watch(e.recert.pid())
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				c := cands[i]
				tok, err := e.signer.Token(benchseed.Owner{Subject: c.Subject, Email: c.Email, Name: c.Name}, time.Now())
				if err != nil {
					start.observe(time.Now(), true, err.Error())
					continue
				}
				t0 := time.Now()
				var st struct {
					Start struct {
						Attempt struct {
							ID        string `json:"id"`
							Questions []struct {
								ID      string `json:"id"`
								Choices []struct {
									ID string `json:"id"`
								} `json:"choices"`
							} `json:"questions"`
						} `json:"attempt"`
					} `json:"startRenewalAssessment"`
				}
				failed, why := post(ctx, client, url, tok, startMutation,
					map[string]any{"in": map[string]any{"earnedCertificationId": earnedID(c.ID), "language": "en"}}, &st)
				start.observe(t0, failed, why)
				if failed {
					cycle.observe(t0, true, "start: "+why)
					continue
				}
				answers, err := answersFor(st.Start.Attempt.Questions, correct)
				if err != nil {
					cycle.observe(t0, true, err.Error())
					continue
				}
				t1 := time.Now()
				failed, why = post(ctx, client, url, tok, submitMutation,
					map[string]any{"in": map[string]any{"attemptId": st.Start.Attempt.ID, "answers": answers}}, nil)
				submit.observe(t1, failed, why)
				cycle.observe(t0, failed, why)
			}
		}()
	}
	for i := range cands {
		if ctx.Err() != nil {
			break
		}
		work <- i
	}
	close(work)
	wg.Wait()
	proc := w.done()
	e.add(start.result("renew:start", proc))
	e.add(submit.result("renew:submit", proc))
	e.add(cycle.result("renew:cycle", proc))
	return nil
}

// answersFor picks the correct choices of each served question, keeping the API's id form.
func answersFor(qs []struct {
	ID      string `json:"id"`
	Choices []struct {
		ID string `json:"id"`
	} `json:"choices"`
}, correct map[uuid.UUID][]string) ([]map[string]any, error) {
	out := make([]map[string]any, 0, len(qs))
	for _, q := range qs {
		qid, err := rawUUID(q.ID)
		if err != nil {
			return nil, err
		}
		want := map[string]bool{}
		for _, c := range correct[qid] {
			want[c] = true
		}
		var ids []string
		for _, c := range q.Choices {
			cid, err := rawUUID(c.ID)
			if err != nil {
				return nil, err
			}
			if want[cid.String()] {
				ids = append(ids, c.ID)
			}
		}
		out = append(out, map[string]any{"questionId": q.ID, "choiceIds": ids})
	}
	return out, nil
}

const mergeMutation = `mutation Merge($in: MergeCertificationProfilesInput!) { mergeCertificationProfiles(input: $in) {
  survivor { mcid status } duplicate { mcid status } auditEvent { id action } } }`

// merge times merges of fresh 1,000-certification, 10,000-exam-result duplicates, one at a
// time (the target is a single merge under 200 ms).
func (e *env) merge(ctx context.Context) error {
	tag := "run" + strconv.FormatInt(time.Now().Unix(), 36)
	t0 := time.Now()
	pairs, err := benchseed.MergeFixtures(ctx, e.db, date.Of(time.Now().UTC()), tag, e.o.merges)
	if err != nil {
		return err
	}
	log.Printf("merge: %d fresh pairs made in %s", len(pairs), time.Since(t0).Round(time.Millisecond))
	tok := e.mint("bench-support", auth.RoleSupport)
	url := "http://" + e.recert.addr + "/graphql"
	client := &http.Client{Timeout: 60 * time.Second}
	var m timed
	w := watch(e.recert.pid())
	for i, p := range pairs {
		if ctx.Err() != nil {
			break
		}
		in := map[string]any{"survivorId": profileID(p.SurvivorID), "duplicateId": profileID(p.DuplicateID),
			"reason": "bench: duplicate registration", "ticket": "BENCH-" + strconv.Itoa(i),
			"idempotencyKey": tag + "-" + strconv.Itoa(i)}
		start := time.Now()
		failed, why := post(ctx, client, url, tok, mergeMutation, map[string]any{"in": in}, nil)
		m.observe(start, failed, why)
	}
	e.add(m.result("merge1000", w.done()))
	var moved int
	if err := e.db.GetContext(ctx, &moved, `SELECT count(*) FROM earned_certifications WHERE profile_id = ANY($1)`,
		pq.Array(survivors(pairs))); err == nil {
		log.Printf("merge: survivors now hold %d earned certifications (want %d)", moved, len(pairs)*(benchseed.HeavyEarned+20))
	}
	return nil
}

func survivors(ps []benchseed.Pair) []uuid.UUID {
	out := make([]uuid.UUID, len(ps))
	for i, p := range ps {
		out[i] = p.SurvivorID
	}
	return out
}
