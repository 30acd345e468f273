package postgres

// PreparedCount exposes how many statements the Store's cache holds, for tests.
func (s *Store) PreparedCount() int {
	s.stmts.mu.RLock()
	defer s.stmts.mu.RUnlock()
	return len(s.stmts.m)
}

// OutboxStatsQuery is the query behind OutboxStats, for plan checks.
const OutboxStatsQuery = outboxStatsQuery
