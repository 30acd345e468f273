package apperr

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"
)

// RetryAfterSeconds is the Retry-After an UNAVAILABLE answer suggests: a failover of the
// database usually completes within a few seconds (docs/operations.md).
const RetryAfterSeconds = 2

// unavailableStates are the SQLSTATEs that mean the database cannot take the request now,
// though it may a moment later: class 08 (connection exception), 57P01 admin_shutdown, 57P02
// crash_shutdown, 57P03 cannot_connect_now (starting up, shutting down, in recovery) and 25006
// read_only_sql_transaction (a primary that became a standby, or a database set read-only).
var unavailableStates = map[string]bool{"57P01": true, "57P02": true, "57P03": true, "25006": true}

// IsUnavailable reports whether err comes from a database that cannot be reached or cannot
// take writes right now: a connection-class SQLSTATE (see unavailableStates), the driver's
// bad connection, a closed connection, or a network error (refused, reset, a connect timeout).
// A request deadline or cancellation is not one: the request took too long. Such a
// request may succeed when retried once the database is back or has failed over.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	var st interface{ SQLState() string }
	if errors.As(err, &st) {
		code := st.SQLState()
		return strings.HasPrefix(code, "08") || unavailableStates[code]
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false // context errors also satisfy net.Error
	}
	var ne net.Error
	switch {
	case errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &ne):
		return true
	}
	return false
}

// UnavailableError is the UNAVAILABLE answer: the database is unreachable or read-only for a
// moment (a failover); retry after RetryAfterSeconds.
func UnavailableError() *Error {
	return E(Unavailable, "the service is briefly unavailable; retry in a few seconds").With("retryAfterSeconds", RetryAfterSeconds)
}
