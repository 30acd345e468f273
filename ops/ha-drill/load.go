package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// workload is the traffic the drill drives at the Recert instances during the events.
type workload struct {
	run       string   // unique per run: prefixes externalIds and idempotency keys
	instances []string // base URLs; every attempt goes to the next one, as a load balancer would
	next      atomic.Uint64
	client    *http.Client

	exams       []string          // exam codes that alone earn a renewable certification
	writerMCIDs []string          // profiles exam results are recorded on and whose dashboards are read
	ownerTokens map[string]string // MCID -> the owner's token
	deliveryTok string
	supportTok  string
	mergePairs  [][2]uuid.UUID // survivor, duplicate
	renewals    []renewalCand
	correct     map[uuid.UUID]map[uuid.UUID]bool // question -> correct choices
	attemptOfDB func(ctx context.Context, earned uuid.UUID) (uuid.UUID, error)

	mu       sync.Mutex
	attempts []attempt
	led      ledger
	final    map[string]int // refused writes by kind and code
	reads    [2]int64       // ok, failed
}

type renewalCand struct {
	Earned uuid.UUID
	MCID   string
}

func (w *workload) base() string {
	return w.instances[int(w.next.Add(1))%len(w.instances)]
}

func (w *workload) note(kind string, start time.Time, a answer) {
	w.mu.Lock()
	w.attempts = append(w.attempts, attempt{Kind: kind, Start: start, End: time.Now(), OK: a.OK})
	w.mu.Unlock()
}

func (w *workload) refuse(kind string, a answer) {
	w.mu.Lock()
	w.final[kind+" "+a.Code]++
	w.mu.Unlock()
}

// write sends one write until it is acknowledged, refused with a final code, or ctx ends;
// every try goes to the next instance. It returns the last answer.
func (w *workload) write(ctx context.Context, kind, token, query string, vars map[string]any) (answer, bool) {
	for n := 1; ; n++ {
		start := time.Now()
		a := call(ctx, w.client, w.base(), token, query, vars)
		if ctx.Err() != nil {
			return a, false // the drill is ending: this try is neither counted nor acknowledged
		}
		w.note(kind, start, a)
		if !a.Retry {
			return a, true
		}
		select {
		case <-ctx.Done():
			return a, false
		case <-time.After(backoff(n)):
		}
	}
}

const recordMutation = `mutation Record($in: RecordExamResultInput!) { recordExamResult(input: $in) { examResult { id } } }`

// examWriter records passed exams with unique externalIds, retrying the same id until
// acknowledged. The exams are dated 340 days ago, so a certification they newly earn expires
// in about 25 days and its 30-day reminder is due at once: the reminder pass has work during
// the events.
func (w *workload) examWriter(ctx context.Context, n int, pause time.Duration) {
	for i := 0; ctx.Err() == nil; i++ {
		k := n*7919 + i
		mcid := w.writerMCIDs[k%len(w.writerMCIDs)]
		exam := w.exams[(k/len(w.writerMCIDs)+n)%len(w.exams)]
		id := fmt.Sprintf("drill-%s-w%d-%07d", w.run, n, i)
		in := map[string]any{"mcid": mcid, "examCode": exam, "passed": true, "score": 800,
			"takenAt": time.Now().UTC().Add(-340 * 24 * time.Hour).Truncate(time.Second).Format(time.RFC3339), "externalId": id}
		a, done := w.write(ctx, "exam", w.deliveryTok, recordMutation, map[string]any{"in": in})
		if !done {
			return
		}
		if a.OK {
			w.mu.Lock()
			w.led.Exams = append(w.led.Exams, id)
			w.mu.Unlock()
		} else {
			w.refuse("exam", a)
		}
		sleep(ctx, pause)
	}
}

const mergeMutation = `mutation Merge($in: MergeCertificationProfilesInput!) { mergeCertificationProfiles(input: $in) { duplicate { status } } }`

// merger merges the reserved profile pairs one after the other, each with its own
// idempotency key, retried with the same key until acknowledged.
func (w *workload) merger(ctx context.Context, pause time.Duration) {
	for i, p := range w.mergePairs {
		if ctx.Err() != nil {
			return
		}
		in := map[string]any{"survivorId": nodeID("CertificationProfile", p[0]), "duplicateId": nodeID("CertificationProfile", p[1]),
			"reason": "failover drill", "ticket": "DRILL-" + strconv.Itoa(i), "keepLearnProfileOf": "SURVIVOR",
			"idempotencyKey": "drill-" + w.run + "-m" + strconv.Itoa(i)}
		a, done := w.write(ctx, "merge", w.supportTok, mergeMutation, map[string]any{"in": in})
		if !done {
			return
		}
		if a.OK {
			w.mu.Lock()
			w.led.Merges = append(w.led.Merges, p[1].String())
			w.mu.Unlock()
		} else {
			w.refuse("merge", a)
		}
		sleep(ctx, pause)
	}
}

const startMutation = `mutation Start($in: StartRenewalAssessmentInput!) { startRenewalAssessment(input: $in) {
  attempt { id questions { id choices { id } } } } }`

const submitMutation = `mutation Submit($in: SubmitRenewalAssessmentInput!) { submitRenewalAssessment(input: $in) { attempt { id passed } } }`

// renewer starts and submits renewal assessments as their owners. A start retried after an
// error can find its own first try committed (ATTEMPT_IN_PROGRESS): the drill then reads the
// attempt from the database and submits it unanswered, so it is closed either way.
func (w *workload) renewer(ctx context.Context, pause time.Duration) {
	for _, c := range w.renewals {
		if ctx.Err() != nil {
			return
		}
		tok := w.ownerTokens[c.MCID]
		a, done := w.write(ctx, "start", tok, startMutation,
			map[string]any{"in": map[string]any{"earnedCertificationId": nodeID("EarnedCertification", c.Earned), "language": "en"}})
		if !done {
			return
		}
		var attemptID uuid.UUID
		var answers []map[string]any
		switch {
		case a.OK:
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
			if err := json.Unmarshal(a.Data, &st); err != nil {
				w.refuse("start", answer{Code: "UNREADABLE"})
				continue
			}
			id, err := rawID(st.Start.Attempt.ID)
			if err != nil {
				w.refuse("start", answer{Code: "UNREADABLE"})
				continue
			}
			attemptID = id
			w.mu.Lock()
			w.led.Starts = append(w.led.Starts, id.String())
			w.mu.Unlock()
			for _, q := range st.Start.Attempt.Questions {
				qid, _ := rawID(q.ID)
				picked := []string{}
				for _, ch := range q.Choices {
					if cid, err := rawID(ch.ID); err == nil && w.correct[qid][cid] {
						picked = append(picked, ch.ID)
					}
				}
				answers = append(answers, map[string]any{"questionId": q.ID, "choiceIds": picked})
			}
		case a.Code == "ATTEMPT_IN_PROGRESS":
			id, err := w.attemptOfDB(ctx, c.Earned)
			if err != nil {
				w.refuse("start", answer{Code: "ATTEMPT_IN_PROGRESS (not found: " + err.Error() + ")"})
				continue
			}
			w.mu.Lock()
			w.led.CommittedDespiteError++
			w.mu.Unlock()
			attemptID, answers = id, []map[string]any{}
		default:
			w.refuse("start", a)
			continue
		}
		a, done = w.write(ctx, "submit", tok, submitMutation,
			map[string]any{"in": map[string]any{"attemptId": nodeID("AssessmentAttempt", attemptID), "answers": answers}})
		if !done {
			return
		}
		switch {
		case a.OK:
			w.mu.Lock()
			w.led.Submits = append(w.led.Submits, attemptID.String())
			w.mu.Unlock()
		case a.Code == "ATTEMPT_ALREADY_SUBMITTED":
			w.mu.Lock()
			w.led.CommittedDespiteError++
			w.mu.Unlock()
		default:
			w.refuse("submit", a)
		}
		sleep(ctx, pause)
	}
}

const dashboardQuery = `query Dashboard($mcid: String!) { certificationProfile(mcid: $mcid) {
  mcid legalName certifications(first: 20) { totalCount nodes { id expiresOn status renewal { eligible reason } } } } }`

// reader reads owners' dashboards; reads are counted, not part of the outage figures.
func (w *workload) reader(ctx context.Context, n int, pause time.Duration) {
	for i := n; ctx.Err() == nil; i += 7 {
		mcid := w.writerMCIDs[i%len(w.writerMCIDs)]
		a := call(ctx, w.client, w.base(), w.ownerTokens[mcid], dashboardQuery, map[string]any{"mcid": mcid})
		if ctx.Err() != nil {
			return
		}
		w.mu.Lock()
		if a.OK {
			w.reads[0]++
		} else {
			w.reads[1]++
		}
		w.mu.Unlock()
		sleep(ctx, pause)
	}
}

// lastAck is when the latest acknowledged write ended.
func (w *workload) lastAck() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := len(w.attempts) - 1; i >= 0; i-- {
		if w.attempts[i].OK {
			return w.attempts[i].End
		}
	}
	return time.Time{}
}

// refusalsLocked lists the final refusals; the caller holds w.mu.
func (w *workload) refusalsLocked() string {
	keys := make([]string, 0, len(w.final))
	for k := range w.final {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s: %d", k, w.final[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
