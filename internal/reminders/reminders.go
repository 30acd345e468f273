// Package reminders runs the renewal reminder outbox (internal/notify) as the program uses it:
// the worker inside the server and the `reminders run-once` command, sending by SMTP or, in
// development, to the log.
package reminders

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recert/recert/internal/calendar"
	"github.com/recert/recert/internal/cli"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/config"
	"github.com/recert/recert/internal/database"
	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/notify/mailer"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/safe"
	"github.com/recert/recert/internal/tracing"
)

// NewOutbox builds the reminder scheduler and sender from the configuration: SMTP when
// SMTP_URL is set, the log otherwise (refused in production, where reminders must go out).
// reg may be nil (no metrics); tr, when on, traces passes and sends (nil: off).
func NewOutbox(cfg config.Config, log *slog.Logger, store *postgres.Store, clk clock.Clock, reg prometheus.Registerer, tr *tracing.Tracing) (*notify.Outbox, error) {
	var m notify.Mailer
	if cfg.SMTPURL != "" {
		smtp, err := mailer.NewSMTP(cfg.SMTPURL, cfg.SMTPFrom)
		if err != nil {
			return nil, err
		}
		m = smtp
	} else {
		if cfg.Production() {
			return nil, errors.New("APP_ENV=production needs SMTP_URL to send renewal reminders (or REMINDER_INTERVAL=0 to run them elsewhere)")
		}
		log.Warn("SMTP_URL is not set: renewal reminder emails are logged, not sent")
		m = mailer.Log{Log: log}
	}
	var metrics *notify.Metrics
	if reg != nil {
		metrics = notify.NewMetrics(reg)
	}
	plan := cfg.ReminderOffsets
	if plan.Len() == 0 {
		plan = notify.DefaultPlan()
	}
	cal, err := calendar.NewService(postgres.Calendar{Store: store}, clk, cfg.PublicURL, plan.Dates)
	if err != nil {
		return nil, err
	}
	return notify.NewOutbox(postgres.Notify{Store: store}, clk, notify.OutboxConfig{
		Plan: cfg.ReminderOffsets, Mailer: m, PublicURL: cfg.PublicURL, Log: log.With("component", "reminders"), Metrics: metrics,
		Trace: tr.Span, Attach: InviteAttachment(cal),
	})
}

// InviteName and InviteType are the file name and content type of the window-open reminder's
// calendar attachment.
const (
	InviteName = "renewal.ics"
	InviteType = "text/calendar; charset=utf-8; method=PUBLISH"
)

// InviteAttachment is the outbox's Attach hook: the calendar events of the reminded
// certification (calendar.Service.Invite, the events its feeds serve) as renewal.ics, none when
// the certification is no longer in a feed.
func InviteAttachment(cal *calendar.Service) func(ctx context.Context, p notify.Pending) ([]notify.Attachment, error) {
	return func(ctx context.Context, p notify.Pending) ([]notify.Attachment, error) {
		body, ok, err := cal.Invite(ctx, p.EarnedID)
		if err != nil || !ok {
			return nil, err
		}
		return []notify.Attachment{{Name: InviteName, ContentType: InviteType, Data: body}}, nil
	}
}

// Worker builds the in-server reminder worker, or nil when REMINDER_INTERVAL=0 (the
// reminders then run elsewhere, e.g. `reminders run-once` from cron).
func Worker(cfg config.Config, log *slog.Logger, store *postgres.Store, clk clock.Clock, reg prometheus.Registerer, tr *tracing.Tracing) (*notify.Outbox, error) {
	if cfg.ReminderInterval == 0 {
		return nil, nil
	}
	return NewOutbox(cfg, log, store, clk, reg, tr)
}

// Start runs the reminder worker in the background (first pass right away, then
// every REMINDER_INTERVAL) and returns the function that stops it and waits for the pass in
// flight; an email being sent is finished and recorded first. REMINDER_INTERVAL=0 starts nothing.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger, outbox *notify.Outbox) (stop func()) {
	if cfg.ReminderInterval == 0 || outbox == nil {
		log.Info("reminder worker off (REMINDER_INTERVAL=0)")
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	safe.Go(log, "reminder worker", func() {
		defer close(done)
		outbox.Run(ctx, cfg.ReminderInterval) // recovers and logs a panicking pass itself
	})
	log.Info("reminder worker started", "interval", cfg.ReminderInterval.String(), "offsets", cfg.ReminderOffsets.String())
	return func() {
		cancel()
		<-done
	}
}

// Command is `recert reminders run-once`: one scheduling and sending pass, for cron or
// operations, safe to run beside servers doing the same. It prints what it did to stdout.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer, load database.LoadEnv) error {
	fs := cli.FlagSet("reminders", "run-once", `run-once runs one renewal reminder pass: it queues the reminders that are due and sends the
queued ones through the configured mail transport (SMTP_*), then exits.`)
	pos, err := cli.ParseCommand(fs, args, 1, stdout, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "run-once" {
		return errors.New("reminders: want `reminders run-once`")
	}
	env, err := load()
	if err != nil {
		return err
	}
	cfg, log, open := env.Config, env.Log, env.Open()
	db, closeDB, err := open(ctx)
	if err != nil {
		return err
	}
	defer closeDB()
	outbox, err := NewOutbox(cfg, log, postgres.New(db), clock.Real{}, nil, nil)
	if err != nil {
		return err
	}
	res, err := outbox.RunOnce(ctx)
	fmt.Fprintf(stdout, "reminders: queued %d, sent %d, failed %d, cancelled %d\n", res.Queued, res.Sent, res.Failed, res.Cancelled)
	return err
}
