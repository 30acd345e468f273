package apperr

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

type sqlState string

func (s sqlState) SQLState() string { return string(s) }
func (s sqlState) Error() string    { return "state " + string(s) }

func TestIsUnavailable(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{sqlState("08006"), true},
		{sqlState("08001"), true},
		{fmt.Errorf("begin: %w", sqlState("57P01")), true},
		{sqlState("57P02"), true},
		{sqlState("57P03"), true},
		{sqlState("25006"), true},
		{sqlState("23505"), false},
		{sqlState("57014"), false}, // statement timeout: the query was slow, not the database gone
		{sqlState("40001"), false},
		{fmt.Errorf("exec: %w", driver.ErrBadConn), true},
		{refused, true},
		{fmt.Errorf("pq: could not connect to any of the hosts:\n%w", errors.Join(refused, refused)), true},
		{context.Canceled, false},
		{fmt.Errorf("query: %w", context.DeadlineExceeded), false}, // the request ran out of time
		{errors.New("boom"), false},
		{nil, false},
	} {
		if got := IsUnavailable(c.err); got != c.want {
			t.Errorf("IsUnavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
