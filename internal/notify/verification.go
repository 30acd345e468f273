package notify

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Verification is a claimed verification email: the code that confirms a contact email
// change, sent to the new address (issue 13 part 4). It shares the reminders' outbox
// discipline (a lease committed before the send, the outcome recorded in a transaction of its
// own; see Outbox) in a table of its own, since it belongs to no earned certification.
type Verification struct {
	ID        uuid.UUID
	Email     string
	Code      string
	LegalName string
	Language  *string
	ExpiresAt time.Time
	Attempts  int
}

// VerificationClaim is one due verification email leased by this sender, like Claim: MarkSent
// records the send (and forgets the code) whoever holds the lease; MarkFailed and Cancel
// record only while the lease is this sender's (ErrLeaseLost otherwise).
type VerificationClaim interface {
	Verification() Verification
	MarkSent(ctx context.Context, at time.Time) error
	MarkFailed(ctx context.Context, at, next time.Time, lastError string) error
	Cancel(ctx context.Context, at time.Time) error
}

// TemplateLanguages lists the languages of the email templates, the fallback first: the
// languages a profile's preferred language may be set to.
func TemplateLanguages() []string {
	out := make([]string, len(templateLanguages))
	for i, t := range templateLanguages {
		out[i] = t.String()
	}
	return out
}

// sendVerifications delivers due verification emails before any reminder (a learner is
// waiting for them), at most max, and reports how many it handled.
func (o *Outbox) sendVerifications(ctx context.Context, max int, res *PassResult) (int, error) {
	handled := 0
	for handled < max && ctx.Err() == nil {
		more, err := o.sendVerification(ctx, res)
		if err != nil || !more {
			return handled, err
		}
		handled++
	}
	return handled, nil
}

// sendVerification claims and handles one due verification email (in the span "outbox.send
// verification"); it reports false when none was due.
func (o *Outbox) sendVerification(ctx context.Context, res *PassResult) (_ bool, err error) {
	ctx, end := o.span(ctx, "outbox.send verification")
	defer func() { end(err) }()
	lease := o.timeout + leaseMargin
	work, cancel := context.WithTimeout(context.WithoutCancel(ctx), lease)
	defer cancel()
	now := o.clock.Now()
	claim, err := o.store.ClaimVerification(work, now, lease)
	if err != nil {
		return false, fmt.Errorf("claim verification email: %w", err)
	}
	if claim == nil {
		return false, nil
	}
	v := claim.Verification()
	log := o.log.With("verification", v.ID)
	if !now.Before(v.ExpiresAt) { // the code no longer works: sending it would only confuse
		if err := claim.Cancel(work, now); err != nil {
			return o.unrecorded(ctx, log, "cancel verification email", err)
		}
		res.Cancelled++
		return true, nil
	}
	if err := o.deliverVerification(work, v); err != nil {
		next := now.Add(Backoff(v.Attempts + 1))
		if rerr := claim.MarkFailed(work, now, next, truncate(err.Error(), 1000)); rerr != nil {
			return o.unrecorded(ctx, log, "record failed verification email", rerr)
		}
		res.Failed++
		log.WarnContext(ctx, "verification email delivery failed", "next_attempt_at", next, "error", err)
		return true, nil
	}
	if err := o.recordSent(work, claim, o.clock.Now(), log); err != nil {
		log.ErrorContext(ctx, "verification email sent but not recorded within its lease: it will be sent again when the lease ends", "error", err)
		return false, fmt.Errorf("record sent verification email: %w", err)
	}
	res.Sent++
	return true, nil
}

func (o *Outbox) deliverVerification(ctx context.Context, v Verification) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mailer panicked: %v", r)
		}
	}()
	msg, err := o.render.verification(v)
	if err != nil {
		return err
	}
	sendCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	return o.mailer.Send(sendCtx, msg)
}

// verificationData is what the verification templates see.
type verificationData struct {
	LegalName string
	Code      string
	Email     string
	Minutes   int
}

// verification renders the email carrying a contact email change's code.
func (r *renderer) verification(v Verification) (Message, error) {
	tag := pickLanguage(v.Language)
	t := r.templates[tag]
	data := verificationData{LegalName: v.LegalName, Code: v.Code, Email: v.Email}
	var subject, body bytes.Buffer
	if err := t.ExecuteTemplate(&subject, "verifySubject", data); err != nil {
		return Message{}, fmt.Errorf("render subject: %w", err)
	}
	if err := t.ExecuteTemplate(&body, "verifyBody", data); err != nil {
		return Message{}, fmt.Errorf("render body: %w", err)
	}
	return Message{ID: "verify-" + v.ID.String(), To: v.Email, Subject: strings.Join(strings.Fields(subject.String()), " "),
		Text: strings.TrimSpace(body.String()) + "\n", Language: tag.String()}, nil
}
