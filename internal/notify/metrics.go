package notify

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/recert/recert/internal/clock"
)

// Metrics counts what the outbox does, for Prometheus.
type Metrics struct {
	queuedTotal    prometheus.Counter
	sentTotal      prometheus.Counter
	failedTotal    prometheus.Counter
	cancelledTotal *prometheus.CounterVec
	passesTotal    *prometheus.CounterVec
}

// NewMetrics registers the reminder metrics on reg:
// recert_reminders_queued_total, recert_reminders_sent_total, recert_reminders_failed_total
// (failed delivery attempts; each is retried), recert_reminders_cancelled_total{reason} and
// recert_reminder_passes_total{outcome}.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		queuedTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recert_reminders_queued_total", Help: "Renewal reminders written to the outbox.",
		}),
		sentTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recert_reminders_sent_total", Help: "Renewal reminders delivered to the mail server.",
		}),
		failedTotal: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "recert_reminders_failed_total", Help: "Failed reminder delivery attempts (each is retried with backoff).",
		}),
		cancelledTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recert_reminders_cancelled_total", Help: "Queued reminders dropped before sending, by reason.",
		}, []string{"reason"}),
		passesTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recert_reminder_passes_total", Help: "Scheduling and sending passes of the reminder worker, by outcome.",
		}, []string{"outcome"}),
	}
	reg.MustRegister(m.queuedTotal, m.sentTotal, m.failedTotal, m.cancelledTotal, m.passesTotal)
	return m
}

func (m *Metrics) queued(n int) {
	if m != nil {
		m.queuedTotal.Add(float64(n))
	}
}

func (m *Metrics) sent() {
	if m != nil {
		m.sentTotal.Inc()
	}
}

func (m *Metrics) failed() {
	if m != nil {
		m.failedTotal.Inc()
	}
}

func (m *Metrics) cancelled(r CancelReason) {
	if m != nil {
		m.cancelledTotal.WithLabelValues(string(r)).Inc()
	}
}

func (m *Metrics) pass(outcome string) {
	if m != nil {
		m.passesTotal.WithLabelValues(outcome).Inc()
	}
}

// OutboxStats counts the reminders still to send (neither sent nor cancelled), and those of
// them whose next attempt is due at now, for the /metrics endpoint.
type OutboxStats struct{ Pending, Due int }

// OutboxStatsFunc reads the outbox counts at now.
type OutboxStatsFunc func(ctx context.Context, now time.Time) (OutboxStats, error)

// NewOutboxCollector reports the outbox on each scrape: recert_reminder_outbox_pending,
// recert_reminder_outbox_due, and recert_reminder_outbox_up (0 when stats failed).
func NewOutboxCollector(stats OutboxStatsFunc, clk clock.Clock) prometheus.Collector {
	return &outboxCollector{stats: stats, clock: clk}
}

type outboxCollector struct {
	stats OutboxStatsFunc
	clock clock.Clock
}

var (
	outboxPending = prometheus.NewDesc("recert_reminder_outbox_pending", "Reminders not yet sent.", nil, nil)
	outboxDue     = prometheus.NewDesc("recert_reminder_outbox_due", "Reminders not yet sent whose next attempt is due.", nil, nil)
	outboxUp      = prometheus.NewDesc("recert_reminder_outbox_up", "1 when the outbox could be read at this scrape.", nil, nil)
)

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxPending
	ch <- outboxDue
	ch <- outboxUp
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	st, err := c.stats(ctx, c.clock.Now())
	if err != nil {
		ch <- prometheus.MustNewConstMetric(outboxUp, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(outboxUp, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(outboxPending, prometheus.GaugeValue, float64(st.Pending))
	ch <- prometheus.MustNewConstMetric(outboxDue, prometheus.GaugeValue, float64(st.Due))
}
