package notify

import (
	"context"
	"errors"
	"fmt"
	"github.com/recert/recert/internal/safe"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/transcript"
)

// Pending is a claimed notification with what its email needs and the current state of its
// earned certification, read in the claiming transaction.
type Pending struct {
	Notification
	CertificationCode string
	CertificationName string
	// CertificationRetiredOn is the certification's retirement date, nil when it has none.
	CertificationRetiredOn *date.Date
	LegalName              string
	// CurrentExpiresOn is the earned certification's expiry now: it differs from the
	// notification's cycle once the certification was renewed.
	CurrentExpiresOn *date.Date
	Superseded       bool
	// LaterQueued reports that a later reminder of the same cycle is already in the outbox.
	LaterQueued bool
}

// Stale reports whether the reminder must not be sent any more on today, and why
// (docs/domain.md "Notifications": none after expiry, none after renewal; no burst after downtime;
// none once the certification is retired).
func (p Pending) Stale(today date.Date) (CancelReason, bool) {
	switch {
	case p.Superseded:
		return CancelSuperseded, true
	case transcript.Retired(p.CertificationRetiredOn, today):
		return CancelRetired, true
	case p.CurrentExpiresOn == nil || *p.CurrentExpiresOn != p.CycleExpiresOn:
		return CancelRenewed, true
	case !today.Before(p.CycleExpiresOn):
		return CancelExpired, true
	case p.LaterQueued:
		return CancelReplaced, true
	}
	return "", false
}

// Claim is one due notification leased by this sender (Store.ClaimDue). Each method records
// an outcome in a short transaction of its own and may be called again after an error (a lost
// connection). MarkSent records the send whatever lease holds the row, as long as it is
// neither sent nor cancelled (the email did leave); MarkFailed and Cancel record only while
// the lease is still this sender's, and return ErrLeaseLost otherwise.
type Claim interface {
	Pending() Pending
	MarkSent(ctx context.Context, at time.Time) error
	MarkFailed(ctx context.Context, at, next time.Time, lastError string) error
	Cancel(ctx context.Context, at time.Time, reason CancelReason) error
}

// ErrLeaseLost reports that a claim's lease ran out and another sender claimed the row (or it
// was settled) before this sender recorded its outcome.
var ErrLeaseLost = errors.New("the claim's lease ran out")

// Message is one email to send.
type Message struct {
	// ID is unique per notification and stable across retries, so it makes a stable
	// Message-ID: a receiving system can drop the rare duplicate (see Outbox).
	ID       string
	To       string
	Subject  string
	Text     string
	Language string // the language the text is written in (Content-Language)
	// Attachments are files sent with the text (the window-open reminder's .ics invite).
	Attachments []Attachment
}

// Attachment is a file attached to a Message.
type Attachment struct {
	Name        string
	ContentType string
	Data        []byte
}

// Mailer delivers emails.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// OutboxConfig configures the scheduler and the sender.
type OutboxConfig struct {
	Plan      Plan   // the reminder offsets; DefaultPlan when empty
	Mailer    Mailer // required
	PublicURL string // base of the renewal link in emails, e.g. https://recert.example
	// SendTimeout bounds one delivery (default 30s). A claim's lease lasts this long plus
	// leaseMargin (2 minutes).
	SendTimeout time.Duration
	// MaxPerPass bounds the deliveries of one pass (default 500), so a pass ends and the next
	// one schedules again even when the backlog is long.
	MaxPerPass int
	Log        *slog.Logger
	Metrics    *Metrics // nil records nothing
	// Trace, when set, runs each pass and each send (claim, email, record) in a span
	// (server.go passes internal/tracing's).
	Trace Tracer
	// Attach, when set, gives the attachments of a window-open reminder (KindWindowOpen): the
	// reminders wiring passes the certification's calendar events as an .ics file. An error is
	// logged and the reminder is sent without them.
	Attach func(ctx context.Context, p Pending) ([]Attachment, error)
}

// Tracer starts a span named name under ctx's and returns the span's context and the function
// that ends it with the outcome (nil for success).
type Tracer func(ctx context.Context, name string) (context.Context, func(error))

// span starts a span with the configured Tracer, or returns ctx and a no-op without one.
func (o *Outbox) span(ctx context.Context, name string) (context.Context, func(error)) {
	if o.trace == nil {
		return ctx, func(error) {}
	}
	return o.trace(ctx, name)
}

// Outbox schedules reminders into the notifications table and delivers them.
//
// Delivery is at-least-once with a lease, and the window for a duplicate is made as small as
// we can. A sender claims one due row in a short committed transaction (FOR UPDATE SKIP
// LOCKED, then next_attempt_at pushed to the end of a lease of SendTimeout + leaseMargin,
// which is also the claim's token), sends the email with no transaction open, and records
// the outcome in a second short transaction: sent, failed with backoff or cancelled (the
// cancel rules are checked again at send time). Recording a sent email is retried on fresh
// connections until it commits or the lease runs out, so a database failover between the
// SMTP server's acceptance and the record (the case ops/ha-drill saw) sends nothing twice:
// the lease was committed before the email left, and it survives the failover (with
// synchronous replication) while no session does. While a lease holds, no other sender, on
// this instance or another, takes the row. An email is sent again only when the sender dies
// (or cannot reach the database for the whole lease) after the SMTP server accepted it and
// before the record committed: then the row is due again when the lease ends and goes out
// once more, once, with the same Message-ID (Message.ID, <reminder-ID@host>), so a receiving
// system can drop it. A claimer that dies before sending delays the reminder by at most the
// lease. The other choice, recording before sending, would lose the reminder instead:
// docs/domain.md prefers retries to loss.
type Outbox struct {
	store   Store
	clock   clock.Clock
	plan    Plan
	mailer  Mailer
	render  *renderer
	timeout time.Duration
	max     int
	log     *slog.Logger
	metrics *Metrics
	trace   Tracer
	attach  func(ctx context.Context, p Pending) ([]Attachment, error)
}

// NewOutbox returns an Outbox on store. Codes: none (configuration errors are plain).
func NewOutbox(store Store, clk clock.Clock, cfg OutboxConfig) (*Outbox, error) {
	if cfg.Mailer == nil {
		return nil, errors.New("notify: outbox needs a mailer")
	}
	if cfg.Plan.Len() == 0 {
		cfg.Plan = DefaultPlan()
	}
	if cfg.SendTimeout <= 0 {
		cfg.SendTimeout = 30 * time.Second
	}
	if cfg.MaxPerPass <= 0 {
		cfg.MaxPerPass = 500
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	r, err := newRenderer(cfg.PublicURL)
	if err != nil {
		return nil, err
	}
	return &Outbox{store: store, clock: clk, plan: cfg.Plan, mailer: cfg.Mailer, render: r,
		timeout: cfg.SendTimeout, max: cfg.MaxPerPass, log: cfg.Log, metrics: cfg.Metrics, trace: cfg.Trace,
		attach: cfg.Attach}, nil
}

// PassResult counts what one pass did.
type PassResult struct {
	Queued, Sent, Failed, Cancelled int
}

// Schedule writes the reminders due now: for every current renewable cycle, the latest due
// reminder if nothing of that or a later sequence was written yet. Several schedulers may run
// at once; the (earned certification, cycle, sequence) key keeps every reminder unique.
func (o *Outbox) Schedule(ctx context.Context) (int, error) {
	now := o.clock.Now()
	n, err := o.store.Schedule(ctx, now, date.Of(now), o.plan)
	if err != nil {
		return 0, fmt.Errorf("schedule reminders: %w", err)
	}
	o.metrics.queued(n)
	return n, nil
}

// Send delivers due verification emails (sendVerifications), then due notifications, one
// claim (one transaction) at a time, until none is due,
// MaxPerPass were handled, or ctx is done. A delivery failure is recorded on its row with the
// next attempt after Backoff; it is not an error of the pass.
func (o *Outbox) Send(ctx context.Context) (PassResult, error) {
	var res PassResult
	first, err := o.sendVerifications(ctx, o.max, &res)
	if err != nil {
		return res, err
	}
	for i := first; i < o.max && ctx.Err() == nil; i++ {
		more, err := o.sendOne(ctx, &res)
		if err != nil {
			return res, err
		}
		if !more {
			break
		}
	}
	return res, nil
}

// RunOnce runs one scheduling pass and one sending pass (in the span "reminders.pass").
func (o *Outbox) RunOnce(ctx context.Context) (_ PassResult, err error) {
	ctx, end := o.span(ctx, "reminders.pass")
	defer func() { end(err) }()
	return o.pass(ctx)
}

// pass is RunOnce without its span.
func (o *Outbox) pass(ctx context.Context) (PassResult, error) {
	queued, err := o.Schedule(ctx)
	if err != nil {
		return PassResult{}, err
	}
	res, err := o.Send(ctx)
	res.Queued = queued
	return res, err
}

// Run runs a pass right away and then every interval until ctx is done; after a pass that
// stopped at MaxPerPass (a backlog), the next one starts at once. A failing or panicking pass
// is logged and the next one runs as usual.
func (o *Outbox) Run(ctx context.Context, every time.Duration) {
	safe.Loop(ctx, o.log, "reminder pass", every, func() bool { return o.safePass(ctx) })
}

// safePass runs one pass (RunOnce), recovering a panic, and logs it inside the pass's span, so
// that its log lines carry the trace id; it reports whether the pass left a backlog.
func (o *Outbox) safePass(ctx context.Context) (backlog bool) {
	ctx, end := o.span(ctx, "reminders.pass")
	var err error
	defer func() {
		if p := recover(); p != nil {
			backlog, err = false, fmt.Errorf("reminder pass panicked: %v", p)
			o.metrics.pass("panic")
			o.log.ErrorContext(ctx, "reminder pass panicked", "panic", p, "stack", string(debug.Stack()))
		}
		end(err)
	}()
	res, err := o.pass(ctx)
	if err != nil && ctx.Err() == nil {
		o.metrics.pass("error")
		o.log.ErrorContext(ctx, "reminder pass failed", "error", err)
		return false
	}
	o.metrics.pass("ok")
	if res != (PassResult{}) {
		o.log.InfoContext(ctx, "reminder pass", "queued", res.Queued, "sent", res.Sent, "failed", res.Failed, "cancelled", res.Cancelled)
	}
	return err == nil && res.Sent+res.Failed+res.Cancelled >= o.max
}

// leaseMargin is how much longer than the send timeout a claim's lease lasts: the time a sent
// reminder has to be recorded, retried on fresh connections through a database failover
// (docs/operations.md "Failover drill": up to about a minute for a crashed primary).
const leaseMargin = 2 * time.Minute

// sendOne claims and handles one due notification (in the span "outbox.send reminder"); it
// reports false when none was due.
func (o *Outbox) sendOne(ctx context.Context, res *PassResult) (_ bool, err error) {
	ctx, end := o.span(ctx, "outbox.send reminder")
	defer func() { end(err) }()
	// Sending and recording outlive a shutdown that cancels ctx mid-send (an email that went
	// out must be recorded), but not the lease: after it another sender may take the row.
	lease := o.timeout + leaseMargin
	work, cancel := context.WithTimeout(context.WithoutCancel(ctx), lease)
	defer cancel()
	now := o.clock.Now()
	claim, err := o.store.ClaimDue(work, now, lease)
	if err != nil {
		return false, fmt.Errorf("claim notification: %w", err)
	}
	if claim == nil {
		return false, nil
	}
	p := claim.Pending()
	log := o.log.With("notification", p.ID, "earned_certification", p.EarnedID, "sequence", p.Sequence)

	if reason, stale := p.Stale(date.Of(now)); stale {
		if err := claim.Cancel(work, now, reason); err != nil {
			return o.unrecorded(ctx, log, "cancel notification", err)
		}
		res.Cancelled++
		o.metrics.cancelled(reason)
		log.InfoContext(ctx, "reminder cancelled", "reason", reason)
		return true, nil
	}

	if err := o.deliver(work, p, now); err != nil {
		attempts := p.Attempts + 1
		next := now.Add(Backoff(attempts))
		if rerr := claim.MarkFailed(work, now, next, truncate(err.Error(), 1000)); rerr != nil {
			return o.unrecorded(ctx, log, "record failed delivery", rerr)
		}
		res.Failed++
		o.metrics.failed()
		log.WarnContext(ctx, "reminder delivery failed", "attempts", attempts, "next_attempt_at", next, "error", err)
		return true, nil
	}
	if err := o.recordSent(work, claim, o.clock.Now(), log); err != nil {
		log.ErrorContext(ctx, "reminder sent but not recorded within its lease: it will be sent again when the lease ends", "error", err)
		return false, fmt.Errorf("record sent notification: %w", err)
	}
	res.Sent++
	o.metrics.sent()
	return true, nil
}

// unrecorded handles an outcome (failed or cancelled: no email left) that could not be
// recorded: a lost lease means another sender has the row now, which is no error of this
// pass; any other error ends the pass, and the row is due again when the lease ends.
func (o *Outbox) unrecorded(ctx context.Context, log *slog.Logger, what string, err error) (bool, error) {
	if errors.Is(err, ErrLeaseLost) {
		log.WarnContext(ctx, what+": the lease ran out, another sender has the reminder", "error", err)
		return true, nil
	}
	return false, fmt.Errorf("%s: %w", what, err)
}

// recordRetry is the pause between two tries of recording a sent email.
const recordRetry = 500 * time.Millisecond

// recordSent records a sent email (a reminder or a verification email), trying again every
// half second (safe.Retry) until it is recorded or ctx (the lease) ends; each try is a
// transaction of its own on a connection from the pool, which reaches the new primary once
// there is one.
func (o *Outbox) recordSent(ctx context.Context, claim interface {
	MarkSent(context.Context, time.Time) error
}, at time.Time, log *slog.Logger) error {
	return safe.Retry(ctx, log, "recording a sent email", recordRetry, func() error { return claim.MarkSent(ctx, at) })
}

// deliver renders and sends one reminder within the send timeout. A panic in the mailer is a
// failed delivery (retried with backoff), not a crash of the pass.
func (o *Outbox) deliver(ctx context.Context, p Pending, now time.Time) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("mailer panicked: %v", r)
		}
	}()
	msg, err := o.render.message(p, date.Of(now))
	if err != nil {
		return err
	}
	msg.Attachments = o.attachments(ctx, p)
	sendCtx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	return o.mailer.Send(sendCtx, msg)
}

// attachments runs the Attach hook for a window-open reminder. A failing hook never fails the
// reminder: the error is logged and the email goes out without attachments.
func (o *Outbox) attachments(ctx context.Context, p Pending) (atts []Attachment) {
	if o.attach == nil || p.Kind != KindWindowOpen {
		return nil
	}
	atts, err := func() (_ []Attachment, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("attach panicked: %v", r)
			}
		}()
		return o.attach(ctx, p)
	}()
	if err != nil {
		o.log.WarnContext(ctx, "reminder attachment failed: sending without it", "notification", p.ID,
			"earned_certification", p.EarnedID, "error", err)
		return nil
	}
	return atts
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
