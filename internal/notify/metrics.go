package notify

import "github.com/prometheus/client_golang/prometheus"

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
