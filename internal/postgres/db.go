// Package postgres is the sqlx access for every domain: plain SQL in consts next to the
// methods, private row structs converted to domain types, one transaction per mutation with a
// retry on serialization failures and deadlocks, and the mapping of known constraint names to
// API error codes.
package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/apperr"
)

// Store runs queries on a pool or, inside InTx, on one transaction. The zero value is unusable;
// build it with New.
type Store struct {
	db    *sqlx.DB
	q     sqlx.ExtContext // db, or the open transaction
	tx    *sqlx.Tx
	stmts *stmtCache // shared by the Store and its transactions
}

// New returns a Store on the pool db.
func New(db *sqlx.DB) *Store { return &Store{db: db, q: db, stmts: newStmtCache(db)} }

// Pool bounds how long a pooled connection is kept. lib/pq checks target_session_attrs only
// when it connects, so after a failover a pool keeps talking to the old primary until its
// connections break or age out: the lifetime bounds how long that can last.
type Pool struct {
	MaxLifetime time.Duration // DB_CONN_MAX_LIFETIME: a connection is closed this long after it was opened (0: never)
	MaxIdleTime time.Duration // DB_CONN_MAX_IDLE_TIME: an idle connection is closed after this long (0: never)
}

// DefaultPool is the pool of Open: the defaults of DB_CONN_MAX_LIFETIME and DB_CONN_MAX_IDLE_TIME.
var DefaultPool = Pool{MaxLifetime: 5 * time.Minute, MaxIdleTime: time.Minute}

// Open connects to dsn with pool settings sized for this service (DefaultPool).
func Open(ctx context.Context, dsn string) (*sqlx.DB, error) {
	return OpenWith(ctx, dsn, DefaultPool, sql.OpenDB)
}

// OpenPool connects to dsn with pool settings sized for this service and the connection
// lifetimes of p.
func OpenPool(ctx context.Context, dsn string, p Pool) (*sqlx.DB, error) {
	return OpenWith(ctx, dsn, p, sql.OpenDB)
}

// OpenWith is OpenPool with the pool made by openDB from lib/pq's connector for dsn
// (tracing.Tracing.OpenDB wraps its statements in spans).
func OpenWith(ctx context.Context, dsn string, p Pool, openDB func(driver.Connector) *sql.DB) (*sqlx.DB, error) {
	connector, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db := sqlx.NewDb(openDB(connector), "postgres")
	db.SetMaxOpenConns(20)
	db.SetMaxIdleConns(20)
	db.SetConnMaxLifetime(p.MaxLifetime)
	db.SetConnMaxIdleTime(p.MaxIdleTime)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return db, nil
}

// maxTxAttempts bounds the retries of a transaction that failed with 40001 or 40P01.
const maxTxAttempts = 5

// InTx runs fn in one transaction, committing when fn returns nil. The whole closure is
// retried a few times on serialization failure or deadlock, so fn must not have side effects
// outside the database. Nested calls reuse the open transaction.
func (s *Store) InTx(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	var err error
	for attempt := 1; attempt <= maxTxAttempts; attempt++ {
		err = s.runTx(ctx, fn)
		if !retryable(err) {
			return err
		}
		// Back off a little, more each time, so racing transactions spread out.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(attempt*attempt) * 5 * time.Millisecond):
		}
	}
	return fmt.Errorf("transaction gave up after %d attempts: %w", maxTxAttempts, err)
}

func (s *Store) runTx(ctx context.Context, fn func(tx *Store) error) (err error) {
	tx, err := s.db.BeginTxx(ctx, nil)
	if err != nil {
		var pe *pq.Error
		if errors.As(err, &pe) && pe.Code == "0A000" {
			// "cannot set transaction read-write mode during recovery": the server is a
			// standby (a demoted primary). It means what 25006 means for a statement.
			err = readOnlyServer{err}
		}
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(&Store{db: s.db, q: tx, tx: tx, stmts: s.stmts}); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", mapError(err))
	}
	return nil
}

// readOnlyServer is a BEGIN refused by a standby, reported as SQLSTATE 25006
// read_only_sql_transaction so that it reads as UNAVAILABLE (apperr.IsUnavailable).
type readOnlyServer struct{ err error }

func (e readOnlyServer) Error() string    { return e.err.Error() }
func (e readOnlyServer) Unwrap() error    { return e.err }
func (e readOnlyServer) SQLState() string { return "25006" }

func retryable(err error) bool {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Code == "40001" || pe.Code == "40P01"
	}
	return false
}

// constraintCodes maps the constraint names of migrations/ to the API codes they mean.
var constraintCodes = map[string]*apperr.Error{
	"profile_links_learn_profile_key": apperr.E(apperr.LearnProfileAlreadyLinked,
		"this Learn profile is already connected to a certification profile"),
	"profile_links_certification_profile_key": apperr.E(apperr.CertificationProfileAlreadyLinked,
		"this certification profile is already connected to a Learn profile"),
	"profile_links_learn_profile_account_fkey": apperr.E(apperr.AccountMismatch,
		"the Learn profile and the certification profile belong to different accounts"),
	"profile_links_certification_profile_account_fkey": apperr.E(apperr.ProfileAlreadyMerged,
		"the certification profile was merged into another one; connect the profile it was merged into"),
	"assessment_attempts_one_in_progress": apperr.E(apperr.AttemptInProgress,
		"another attempt for this certification is in progress"),
	"renewals_cycle_key": apperr.E(apperr.RenewalWindowNotOpen,
		"the certification has already been renewed in this cycle"),
	"renewals_attempt_key": apperr.E(apperr.AttemptAlreadySubmitted,
		"this attempt has already been submitted"),
	"merges_duplicate_key": apperr.E(apperr.ProfileAlreadyMerged,
		"the profile has already been merged"),
}

// errUnstorable is text PostgreSQL refuses to hold (22021 character_not_in_repertoire, a
// NUL or invalid UTF-8; 22P05 untranslatable_character). querylimits.InputGuard refuses such
// arguments before any SQL; this catches what would still get through.
var errUnstorable = apperr.Invalid("the text holds a NUL character or invalid UTF-8, which cannot be stored")

// mapError turns a violation of a known constraint into its API error, and text PostgreSQL
// cannot hold into BAD_USER_INPUT; every other error is returned unchanged (and becomes
// INTERNAL at the edge).
func mapError(err error) error {
	var pe *pq.Error
	if errors.As(err, &pe) {
		if e, ok := constraintCodes[pe.Constraint]; ok {
			return e
		}
		if pe.Code == "22021" || pe.Code == "22P05" {
			return errUnstorable
		}
	}
	return err
}

// get runs a single-row query into dest; sql.ErrNoRows is returned as is.
func (s *Store) get(ctx context.Context, dest any, query string, args ...any) error {
	if st := s.prepared(ctx, query); st != nil {
		return mapError(st.GetContext(ctx, dest, args...))
	}
	return mapError(sqlx.GetContext(ctx, s.q, dest, query, args...))
}

// sel runs a multi-row query into dest.
func (s *Store) sel(ctx context.Context, dest any, query string, args ...any) error {
	if st := s.prepared(ctx, query); st != nil {
		return mapError(st.SelectContext(ctx, dest, args...))
	}
	return mapError(sqlx.SelectContext(ctx, s.q, dest, query, args...))
}

// query runs a multi-row query for a caller that scans the rows itself (and closes them),
// prepared on the pool like sel.
func (s *Store) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := s.prepared(ctx, query); st != nil {
		rows, err := st.QueryContext(ctx, args...)
		return rows, mapError(err)
	}
	rows, err := s.q.QueryContext(ctx, query, args...)
	return rows, mapError(err)
}

// scanned is a column of a statement that a caller scans by hand (scanRows): its name, as the
// statement returns it, and where in a row of type R it goes.
type scanned[R any] struct {
	name  string
	field func(*R) any
}

// scanRows scans every row of rows into a new R through cols, which must name the statement's
// columns in order (checked: a statement that changes fails loudly, not silently). It is what
// sqlx's reflection does, without the reflection, for a hot statement with many columns.
func scanRows[R any](rows *sql.Rows, cols []scanned[R]) ([]R, error) {
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if len(names) != len(cols) {
		return nil, fmt.Errorf("scan: the statement returns %d columns, the row knows %d", len(names), len(cols))
	}
	for i, n := range names {
		if cols[i].name != n {
			return nil, fmt.Errorf("scan: column %d is %q, the row expects %q", i, n, cols[i].name)
		}
	}
	var out []R
	dest := make([]any, len(cols))
	for rows.Next() {
		out = append(out, *new(R))
		r := &out[len(out)-1]
		for i, c := range cols {
			dest[i] = c.field(r)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
	}
	return out, mapError(rows.Err())
}

// exec runs a statement.
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	r, err := s.q.ExecContext(ctx, query, args...)
	return r, mapError(err)
}

// notFound converts sql.ErrNoRows into a NOT_FOUND error naming what was looked for.
func notFound(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.Missing(what)
	}
	return err
}
