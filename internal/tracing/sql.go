package tracing

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"github.com/XSAM/otelsql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// attrDBSystem names the database on every SQL span.
var attrDBSystem = attribute.String("db.system.name", "postgresql")

// OpenDB opens a pool on connector whose statements make spans when tracing is on: one per
// query and exec (prepared or not) with the statement text in db.query.text and never its
// parameters, and one per transaction commit or rollback. Statements run outside any span (the
// migrations at start, the hourly purge) make none, nor do preparing, connecting, row scanning
// and session resets. Off, it is sql.OpenDB(connector).
func (t *Tracing) OpenDB(connector driver.Connector) *sql.DB {
	if !t.Enabled() {
		return sql.OpenDB(connector)
	}
	return otelsql.OpenDB(connector,
		otelsql.WithTracerProvider(t.provider),
		otelsql.WithMeterProvider(noop.NewMeterProvider()), // the pool's metrics are Prometheus's
		otelsql.WithAttributes(attrDBSystem),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			DisableErrSkip:       true,
			OmitConnResetSession: true,
			OmitConnPrepare:      true,
			OmitRows:             true,
			OmitConnectorConnect: true,
			SpanFilter: func(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
				return trace.SpanContextFromContext(ctx).IsValid()
			},
		}),
	)
}
