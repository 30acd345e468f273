package postgres

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/recert/recert/internal/notify"
)

// outboxStatsQuery repeats the predicate of the partial index notifications_pending_idx
// (migration 0012), so it reads that small index only, never the table's history of sent and
// cancelled reminders.
const outboxStatsQuery = `
SELECT count(*) AS pending, count(*) FILTER (WHERE next_attempt_at <= $1) AS due
FROM notifications WHERE sent_at IS NULL AND cancelled_at IS NULL`

// OutboxStats reads the outbox counts.
func (s *Store) OutboxStats(ctx context.Context, now time.Time) (notify.OutboxStats, error) {
	var st notify.OutboxStats
	if err := s.q.QueryRowxContext(ctx, outboxStatsQuery, now).Scan(&st.Pending, &st.Due); err != nil {
		return st, fmt.Errorf("outbox stats: %w", err)
	}
	return st, nil
}

// WithParams adds lib/pq connection parameters to dsn, a URL or a key=value string; lib/pq
// sends parameters it does not know (statement_timeout, lock_timeout ...) to the server as
// run-time settings of every connection. Parameters dsn already sets are kept.
func WithParams(dsn string, params map[string]string) (string, error) {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", fmt.Errorf("database URL: %w", err)
		}
		q := u.Query()
		for _, k := range keys {
			if !q.Has(k) {
				q.Set(k, params[k])
			}
		}
		u.RawQuery = q.Encode()
		return u.String(), nil
	}
	out := dsn
	for _, k := range keys {
		if !strings.Contains(" "+dsn, " "+k+"=") {
			out += " " + k + "=" + params[k]
		}
	}
	return strings.TrimSpace(out), nil
}
