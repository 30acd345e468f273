package pgtest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
)

// ConstraintName returns the violated constraint of a PostgreSQL error, or "", for tests that
// check which constraint refused a write.
func ConstraintName(err error) string {
	var pe *pq.Error
	if errors.As(err, &pe) {
		return pe.Constraint
	}
	return ""
}

// StatementCounter counts the SQL statements run through a pool opened with OpenCounting:
// every query and exec, prepared or not; BEGIN, COMMIT and ROLLBACK are not statements of the
// application and are not counted. Tests use it to show a query's cost does not grow with
// the size of a list (no N+1).
type StatementCounter struct{ n atomic.Int64 }

// Count returns the statements run so far.
func (c *StatementCounter) Count() int64 { return c.n.Load() }

// OpenCounting opens a pool on dsn (lib/pq) whose connections count their statements in the
// returned counter. It is opt-in, for tests: production pools come from postgres.Open.
func OpenCounting(dsn string) (*sqlx.DB, *StatementCounter, error) {
	base, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("open counting pool: %w", err)
	}
	c := &StatementCounter{}
	return sqlx.NewDb(sql.OpenDB(countingConnector{base: base, c: c}), "postgres"), c, nil
}

type countingConnector struct {
	base driver.Connector
	c    *StatementCounter
}

func (cc countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := cc.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &countingConn{Conn: conn, c: cc.c}, nil
}

func (cc countingConnector) Driver() driver.Driver { return cc.base.Driver() }

// countingConn forwards to the driver's connection, counting statements. It implements the
// optional interfaces lib/pq's connection implements, so database/sql behaves as without it.
type countingConn struct {
	driver.Conn
	c *StatementCounter
}

var errNoContextSupport = errors.New("counting driver: the wrapped connection lacks a context method")

func (cn *countingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := cn.Conn.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	cn.c.n.Add(1)
	return q.QueryContext(ctx, query, args)
}

func (cn *countingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	e, ok := cn.Conn.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	cn.c.n.Add(1)
	return e.ExecContext(ctx, query, args)
}

func (cn *countingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	var st driver.Stmt
	var err error
	if p, ok := cn.Conn.(driver.ConnPrepareContext); ok {
		st, err = p.PrepareContext(ctx, query)
	} else {
		st, err = cn.Conn.Prepare(query)
	}
	if err != nil {
		return nil, err
	}
	return &countingStmt{Stmt: st, c: cn.c}, nil
}

func (cn *countingConn) Prepare(query string) (driver.Stmt, error) {
	return cn.PrepareContext(context.Background(), query)
}

func (cn *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if b, ok := cn.Conn.(driver.ConnBeginTx); ok {
		return b.BeginTx(ctx, opts)
	}
	return nil, errNoContextSupport
}

func (cn *countingConn) Ping(ctx context.Context) error {
	if p, ok := cn.Conn.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

func (cn *countingConn) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := cn.Conn.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

func (cn *countingConn) ResetSession(ctx context.Context) error {
	if r, ok := cn.Conn.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

func (cn *countingConn) IsValid() bool {
	if v, ok := cn.Conn.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// countingStmt counts each execution of a prepared statement.
type countingStmt struct {
	driver.Stmt
	c *StatementCounter
}

func (st *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	st.c.n.Add(1)
	if e, ok := st.Stmt.(driver.StmtExecContext); ok {
		return e.ExecContext(ctx, args)
	}
	return nil, errNoContextSupport
}

func (st *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	st.c.n.Add(1)
	if q, ok := st.Stmt.(driver.StmtQueryContext); ok {
		return q.QueryContext(ctx, args)
	}
	return nil, errNoContextSupport
}

func (st *countingStmt) CheckNamedValue(nv *driver.NamedValue) error {
	if c, ok := st.Stmt.(driver.NamedValueChecker); ok {
		return c.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}

var (
	_ driver.QueryerContext     = (*countingConn)(nil)
	_ driver.ExecerContext      = (*countingConn)(nil)
	_ driver.ConnPrepareContext = (*countingConn)(nil)
	_ driver.ConnBeginTx        = (*countingConn)(nil)
	_ driver.Pinger             = (*countingConn)(nil)
	_ driver.NamedValueChecker  = (*countingConn)(nil)
	_ driver.SessionResetter    = (*countingConn)(nil)
	_ driver.Validator          = (*countingConn)(nil)
	_ driver.StmtExecContext    = (*countingStmt)(nil)
	_ driver.StmtQueryContext   = (*countingStmt)(nil)
)
