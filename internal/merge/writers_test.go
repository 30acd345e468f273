package merge_test

import (
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apitest"
)

// writersFor returns the racing writers: recordExamResult through the API as exam delivery,
// and (until submitRenewalAssessment lands) a submission in SQL following its locking: the
// earned certification locked FOR UPDATE, a superseded record refused.
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
		submit: func(attemptID uuid.UUID) (bool, error) {
			tx, err := db.Beginx()
			if err != nil {
				return false, err
			}
			defer func() { _ = tx.Rollback() }()
			var e struct {
				ID           uuid.UUID    `db:"id"`
				SupersededAt sql.NullTime `db:"superseded_at"`
			}
			err = tx.Get(&e, `SELECT e.id, e.superseded_at FROM earned_certifications e
WHERE e.id = (SELECT earned_certification_id FROM assessment_attempts WHERE id = $1) FOR UPDATE OF e`, attemptID)
			if err != nil {
				return false, err
			}
			if e.SupersededAt.Valid {
				return false, nil // NOT_RENEWABLE: the merge superseded this record
			}
			if _, err := tx.Exec(`UPDATE assessment_attempts SET submitted_at = $2, score = 100, passed = true WHERE id = $1`, attemptID, now); err != nil {
				return false, err
			}
			if _, err := tx.Exec(`INSERT INTO renewals (earned_certification_id, attempt_id, renewed_at, previous_expires_on, new_expires_on)
SELECT id, $2, $3, expires_on, (expires_on + interval '1 year')::date FROM earned_certifications WHERE id = $1`, e.ID, attemptID, now); err != nil {
				return false, err
			}
			if _, err := tx.Exec(`UPDATE earned_certifications SET expires_on = (expires_on + interval '1 year')::date WHERE id = $1`, e.ID); err != nil {
				return false, err
			}
			return true, tx.Commit()
		},
	}
}
