package merge_test

import (
	"database/sql"
	"testing"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apitest"
)

// writersFor returns writers that follow the locking protocol of recordExamResult and
// submitRenewalAssessment, in SQL, until those mutations exist: the exam result locks the
// profile holding the MCID FOR UPDATE and follows merged_into under the lock; the submission
// locks the earned certification FOR UPDATE and refuses a superseded record.
func writersFor(t *testing.T, env *apitest.Env) writers {
	db := env.DB
	now := env.Clock.Now()
	return writers{
		record: func(mcid, externalID string) error {
			tx, err := db.Beginx()
			if err != nil {
				return err
			}
			defer func() { _ = tx.Rollback() }()
			var p struct {
				ID         uuid.UUID  `db:"id"`
				MergedInto *uuid.UUID `db:"merged_into"`
			}
			if err := tx.Get(&p, `SELECT id, merged_into FROM certification_profiles WHERE mcid = $1 FOR UPDATE`, mcid); err != nil {
				return err
			}
			for p.MergedInto != nil {
				if err := tx.Get(&p, `SELECT id, merged_into FROM certification_profiles WHERE id = $1 FOR UPDATE`, *p.MergedInto); err != nil {
					return err
				}
			}
			if _, err := tx.Exec(`INSERT INTO exam_results (profile_id, exam_code, passed, score, taken_at, external_id, recorded_at)
VALUES ($1, 'AZ-104', true, 800, $2, $3, $2)`, p.ID, now, externalID); err != nil {
				return err
			}
			return tx.Commit()
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
