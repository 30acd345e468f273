package transcript

import (
	"time"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/date"
)

// Retired reports whether something retiring on retiredOn (nil: never) is retired on day.
// The retirement date is the last day it is offered (issue 13, chosen: an exam "retired on
// 31 January" can still be taken that day); from the day after, it is retired.
func Retired(retiredOn *date.Date, day date.Date) bool {
	return retiredOn != nil && day.After(*retiredOn)
}

// CheckExamTaken refuses a result of exam taken after the exam's retirement date (issue 13
// "Retirement": a result taken after retirement cannot be real, or belongs to another exam).
// The day is the UTC date of takenAt, as for earning. Codes: BAD_USER_INPUT (extensions field
// "takenAt" and retiredOn, the date).
func CheckExamTaken(exam catalog.Exam, takenAt time.Time) error {
	if !Retired(exam.RetiredOn, date.Of(takenAt)) {
		return nil
	}
	return apperr.Invalid("exam %s was retired on %s; a result taken after that date cannot be recorded",
		exam.Code, exam.RetiredOn).With("field", "takenAt").With("retiredOn", exam.RetiredOn.String())
}
