package httpserver

import "github.com/prometheus/client_golang/prometheus"

// metrics are the Prometheus series of /metrics.
type metrics struct {
	http        *prometheus.CounterVec   // HTTP requests by route and status
	operations  *prometheus.CounterVec   // GraphQL operations by operation and outcome
	duration    *prometheus.HistogramVec // GraphQL latency by operation
	errors      *prometheus.CounterVec   // GraphQL errors by code
	cost        prometheus.Histogram     // priced cost of operations
	rateLimited *prometheus.CounterVec   // refusals by limit (request, support)
	rejected    *prometheus.CounterVec   // documents refused by a limit, by reason
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		http: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recert_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "status"}),
		operations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recert_graphql_operations_total",
			Help: "GraphQL operations by operation (type:first root field) and outcome (ok or the first error code).",
		}, []string{"operation", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "recert_graphql_operation_seconds", Help: "GraphQL operation latency by operation.",
			Buckets: prometheus.DefBuckets,
		}, []string{"operation"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recert_graphql_errors_total", Help: "GraphQL errors by extensions.code.",
		}, []string{"code"}),
		cost: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "recert_graphql_operation_cost", Help: "Priced cost of GraphQL operations.",
			Buckets: []float64{1, 5, 10, 50, 100, 500, 1000, 5000, 10000, 50000},
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recert_rate_limited_total", Help: "Requests refused with RATE_LIMITED, by limit.",
		}, []string{"limit"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "recert_rejected_documents_total", Help: "GraphQL documents refused by a document limit, by reason.",
		}, []string{"reason"}),
	}
	reg.MustRegister(m.http, m.operations, m.duration, m.errors, m.cost, m.rateLimited, m.rejected)
	return m
}
