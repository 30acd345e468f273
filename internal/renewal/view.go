package renewal

import (
	"errors"

	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/transcript"
)

// ErrNotRead is what a part of an EarnedView that its builder did not read answers.
var ErrNotRead = errors.New("not read with the earned certification")

// EarnedView is an earned certification as one reader sees it: the record, its status on the
// reader's day and, read with it, its certification and its renewal status (or why the reader
// may not see it). It is plain data: reading a part does no I/O, so an API can show it without
// a lookup per field.
type EarnedView struct {
	transcript.Earned
	// Status is the record's status on the day the view was built (transcript.StatusAt).
	Status transcript.Status

	cert       *catalog.Certification
	certErr    error
	renewal    *Status
	renewalErr error
}

// NewEarnedView is the view of e on the calendar day today, its certification and renewal
// status not read yet (SetCertification, SetRenewal).
func NewEarnedView(e transcript.Earned, today date.Date) EarnedView {
	return EarnedView{Earned: e, Status: transcript.StatusAt(e, today), certErr: ErrNotRead, renewalErr: ErrNotRead}
}

// ViewsOf is the views of a page's rows on the day today, each with the certification the page
// read with it.
func ViewsOf(pg transcript.EarnedPage, today date.Date) []EarnedView {
	out := make([]EarnedView, len(pg.Earned))
	for i := range pg.Earned {
		out[i] = NewEarnedView(pg.Earned[i], today)
		if i < len(pg.Certifications) {
			out[i].SetCertification(&pg.Certifications[i], nil)
		}
	}
	return out
}

// SetCertification records the certification read for the view (or why it could not be).
func (v *EarnedView) SetCertification(c *catalog.Certification, err error) {
	v.cert, v.certErr = c, err
}

// SetRenewal records the renewal status read for the view (or why it could not be).
func (v *EarnedView) SetRenewal(st *Status, err error) { v.renewal, v.renewalErr = st, err }

// Certification is the certification earned, as read with the view.
func (v *EarnedView) Certification() (*catalog.Certification, error) { return v.cert, v.certErr }

// Renewal is the renewal status, as read with the view.
func (v *EarnedView) Renewal() (*Status, error) { return v.renewal, v.renewalErr }

// HasCertification tells whether the view's builder read the certification.
func (v *EarnedView) HasCertification() bool { return !errors.Is(v.certErr, ErrNotRead) }

// HasRenewal tells whether the view's builder read the renewal status.
func (v *EarnedView) HasRenewal() bool { return !errors.Is(v.renewalErr, ErrNotRead) }
