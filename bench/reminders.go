package main

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/recert/recert/internal/benchseed"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/postgres"
)

// discardMailer drops messages: the phase times the scheduling pass, not delivery.
type discardMailer struct{}

func (discardMailer) Send(context.Context, notify.Message) error { return nil }

// reminders times one reminder scheduling pass (notify.Outbox.Schedule) over at least
// -reminder-earned earned certifications (topped up with extra connected profiles), twice:
// the first may queue the backlog of a fresh database, the second is the steady state.
func (e *env) reminders(ctx context.Context) error {
	t0 := time.Now()
	added, err := benchseed.TopUpEarned(ctx, e.db, date.Of(time.Now().UTC()), e.o.reminderEarned, 25)
	if err != nil {
		return err
	}
	var total int
	if err := e.db.GetContext(ctx, &total, `SELECT count(*) FROM earned_certifications`); err != nil {
		return err
	}
	if added > 0 {
		log.Printf("reminders: added %d earned certifications in %s (now %d)", added, time.Since(t0).Round(time.Millisecond), total)
	}
	db := e.db
	if e.schedDB != nil {
		db = e.schedDB // -explain: the scheduler's statements are explained too
	}
	ob, err := notify.NewOutbox(postgres.Notify{Store: postgres.New(db)}, clock.Real{}, notify.OutboxConfig{Mailer: discardMailer{}, PublicURL: "http://127.0.0.1"})
	if err != nil {
		return err
	}
	for i, name := range []string{"reminders:pass1", "reminders:pass2"} {
		start := time.Now()
		queued, err := ob.Schedule(ctx)
		took := time.Since(start)
		r := phaseResult{Phase: name, Server: "scheduler", Requests: 1, P50: took, P99: took, Max: took,
			Proc: procStats{PGPercent: -1}}
		if err != nil {
			r.Errors, r.FirstErr = 1, err.Error()
		}
		e.add(r)
		e.reminderNotes = append(e.reminderNotes, fmt.Sprintf("pass %d over %d earned certifications: %s, queued %d",
			i+1, total, took.Round(time.Millisecond), queued))
	}
	return nil
}
