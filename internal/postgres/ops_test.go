package postgres

import "testing"

func TestWithParams(t *testing.T) {
	p := map[string]string{"statement_timeout": "10000", "lock_timeout": "3000"}
	tests := []struct{ dsn, want string }{
		{"host=/tmp/sock port=5432 dbname=recert", "host=/tmp/sock port=5432 dbname=recert lock_timeout=3000 statement_timeout=10000"},
		{"host=h statement_timeout=5", "host=h statement_timeout=5 lock_timeout=3000"},
		{"postgres://u:p@h:5432/db?sslmode=disable", "postgres://u:p@h:5432/db?lock_timeout=3000&sslmode=disable&statement_timeout=10000"},
		{"postgres://h/db?statement_timeout=1", "postgres://h/db?lock_timeout=3000&statement_timeout=1"},
	}
	for _, tc := range tests {
		got, err := WithParams(tc.dsn, p)
		if err != nil || got != tc.want {
			t.Errorf("WithParams(%q): got %q (%v), want %q", tc.dsn, got, err, tc.want)
		}
	}
}
