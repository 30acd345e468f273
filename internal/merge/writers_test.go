package merge_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/app/apitest"
)

// errSubmitRaced is a submission refused as NOT_FOUND because it waited for the merge's lock
// on the earned certification and then re-read it joined to the profile it no longer belongs
// to (renewal's lock query; see the report). Nothing is lost: the attempt is still in
// progress and the test submits it again.
var errSubmitRaced = errors.New("submission raced the merge: NOT_FOUND")

// writersFor returns the racing writers, the real mutations through the API:
// recordExamResult as exam delivery, startRenewalAssessment and submitRenewalAssessment as the
// owner.
func writersFor(t *testing.T, env *apitest.Env) writers {
	db := env.DB
	now := env.Clock.Now()
	h := env.Server.Handler()
	deliveryToken := env.Token(apitest.ExamDelivery())
	return writers{
		record: func(mcid, exam, externalID string) error {
			r, err := post(h, deliveryToken, `mutation($in: RecordExamResultInput!) {
  recordExamResult(input: $in) { examResult { id } earnedCertifications { id } } }`,
				map[string]any{"in": map[string]any{"mcid": mcid, "examCode": exam, "passed": true, "score": 800,
					"takenAt": now.Format(time.RFC3339), "externalId": externalID}})
			if err == nil && len(r.Errors) > 0 {
				err = fmt.Errorf("recordExamResult: %s", r.Raw)
			}
			return err
		},
		start: func(t *testing.T, owner apitest.Identity, earnedID uuid.UUID) uuid.UUID {
			t.Helper()
			var out struct {
				StartRenewalAssessment struct{ Attempt struct{ ID string } }
			}
			env.MustDo(owner, `mutation($in: StartRenewalAssessmentInput!) { startRenewalAssessment(input: $in) { attempt { id } } }`,
				map[string]any{"in": map[string]any{"earnedCertificationId": encodeID("EarnedCertification", earnedID), "language": "en"}}, &out)
			raw, err := base64.RawURLEncoding.DecodeString(out.StartRenewalAssessment.Attempt.ID)
			_, id, ok := strings.Cut(string(raw), ":")
			if err != nil || !ok {
				t.Fatalf("got attempt id %q", out.StartRenewalAssessment.Attempt.ID)
			}
			return uuid.MustParse(id)
		},
		submit: func(ownerToken string, attemptID uuid.UUID) (bool, error) {
			// The answer key, read from the database: every served question answered right.
			var key []struct {
				Question uuid.UUID `db:"question_id"`
				Correct  string    `db:"correct"`
			}
			if err := db.Select(&key, `SELECT aq.question_id, array_to_string(array_agg(c.id ORDER BY c.id), ',') AS correct
FROM attempt_questions aq JOIN assessment_choices c ON c.question_id = aq.question_id AND c.correct
WHERE aq.attempt_id = $1 GROUP BY aq.question_id`, attemptID); err != nil {
				return false, err
			}
			answers := make([]map[string]any, len(key))
			for i, k := range key {
				answers[i] = map[string]any{"questionId": k.Question.String(), "choiceIds": strings.Split(k.Correct, ",")}
			}
			r, err := post(h, ownerToken, `mutation($in: SubmitRenewalAssessmentInput!) {
  submitRenewalAssessment(input: $in) { attempt { passed } earnedCertification { expiresOn } } }`,
				map[string]any{"in": map[string]any{"attemptId": encodeID("AssessmentAttempt", attemptID), "answers": answers}})
			switch {
			case err != nil:
				return false, err
			case len(r.Errors) > 0 && r.Errors[0].Code() == "NOT_RENEWABLE":
				return false, nil // the merge superseded this record first
			case len(r.Errors) > 0 && r.Errors[0].Code() == "NOT_FOUND":
				return false, errSubmitRaced
			case len(r.Errors) > 0:
				return false, fmt.Errorf("submitRenewalAssessment: %s", r.Raw)
			}
			var out struct {
				SubmitRenewalAssessment struct{ Attempt struct{ Passed bool } }
			}
			if err := jsonInto(r.Data, &out); err != nil {
				return false, err
			}
			if !out.SubmitRenewalAssessment.Attempt.Passed {
				return false, fmt.Errorf("submitted every correct answer, got a fail: %s", r.Raw)
			}
			return true, nil
		},
	}
}
