package postgres

import (
	"context"
	"database/sql"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// replicaLagQuery measures how far a standby is behind: the bytes of WAL it has received but
// not replayed, and the age of the last transaction it replayed while some are still pending
// (0 when it has replayed all it received, so an idle primary does not look like lag). On a
// server that is not a standby both are 0.
const replicaLagQuery = `
SELECT COALESCE(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0)::float8,
       CASE WHEN NOT pg_is_in_recovery() OR pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE COALESCE(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0) END::float8`

// replicaLagCollector exports the replica's lag, read when /metrics is scraped.
type replicaLagCollector struct {
	db           *sql.DB
	seconds, bts *prometheus.Desc
	up           *prometheus.Desc
}

// NewReplicaLagCollector returns the collector of the read replica's lag:
// recert_replica_lag_seconds, recert_replica_lag_bytes and recert_replica_up (0 when the replica
// did not answer within a second).
func NewReplicaLagCollector(db *sql.DB) prometheus.Collector {
	return &replicaLagCollector{
		db: db,
		seconds: prometheus.NewDesc("recert_replica_lag_seconds",
			"Age of the last transaction the read replica replayed while it has WAL left to replay (0 when caught up).", nil, nil),
		bts: prometheus.NewDesc("recert_replica_lag_bytes",
			"WAL the read replica has received but not replayed yet.", nil, nil),
		up: prometheus.NewDesc("recert_replica_up", "1 when the read replica answered the lag query.", nil, nil),
	}
}

func (c *replicaLagCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.seconds
	ch <- c.bts
	ch <- c.up
}

func (c *replicaLagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var bytes, secs float64
	if err := c.db.QueryRowContext(ctx, replicaLagQuery).Scan(&bytes, &secs); err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.seconds, prometheus.GaugeValue, secs)
	ch <- prometheus.MustNewConstMetric(c.bts, prometheus.GaugeValue, bytes)
}
