package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/learner"
)

type accountRow struct {
	ID          uuid.UUID `db:"id"`
	Issuer      string    `db:"issuer"`
	Subject     string    `db:"subject"`
	Kind        string    `db:"kind"`
	Email       *string   `db:"email"`
	DisplayName *string   `db:"display_name"`
	CreatedAt   time.Time `db:"created_at"`
}

func (r accountRow) domain() learner.Account {
	return learner.Account{ID: r.ID, Issuer: r.Issuer, Subject: r.Subject, Kind: learner.Kind(r.Kind),
		Email: r.Email, DisplayName: r.DisplayName, CreatedAt: r.CreatedAt.UTC()}
}

type learnProfileRow struct {
	ID        uuid.UUID `db:"id"`
	AccountID uuid.UUID `db:"account_id"`
	CreatedAt time.Time `db:"created_at"`
}

func (r learnProfileRow) domain() learner.LearnProfile {
	return learner.LearnProfile{ID: r.ID, AccountID: r.AccountID, CreatedAt: r.CreatedAt.UTC()}
}

var _ learner.Store = Learner{}

const accountByIdentitySQL = `
SELECT a.id, a.issuer, a.subject, a.kind, a.email, a.display_name, a.created_at,
       l.id AS lp_id, l.created_at AS lp_created_at
FROM accounts a JOIN learn_profiles l ON l.account_id = a.id
WHERE a.issuer = $1 AND a.subject = $2`

type accountWithProfileRow struct {
	accountRow
	LPID        uuid.UUID `db:"lp_id"`
	LPCreatedAt time.Time `db:"lp_created_at"`
}

// AccountByIdentity loads an account by issuer and subject, with its Learn profile.
func (s Learner) AccountByIdentity(ctx context.Context, issuer, subject string) (learner.Account, learner.LearnProfile, error) {
	var r accountWithProfileRow
	if err := s.get(ctx, &r, accountByIdentitySQL, issuer, subject); err != nil {
		return learner.Account{}, learner.LearnProfile{}, notFound(err, "account")
	}
	a := r.accountRow.domain()
	return a, learner.LearnProfile{ID: r.LPID, AccountID: a.ID, CreatedAt: r.LPCreatedAt.UTC()}, nil
}

const upsertAccountSQL = `
INSERT INTO accounts (issuer, subject, kind, email, display_name, created_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (issuer, subject) DO UPDATE
   SET email = EXCLUDED.email, display_name = EXCLUDED.display_name, kind = EXCLUDED.kind
RETURNING id, issuer, subject, kind, email, display_name, created_at`

const ensureLearnProfileSQL = `
INSERT INTO learn_profiles (account_id, created_at) VALUES ($1, $2)
ON CONFLICT (account_id) DO NOTHING`

const learnProfileByAccountSQL = `SELECT id, account_id, created_at FROM learn_profiles WHERE account_id = $1`

// UpsertAccount creates or refreshes an account and makes sure it has its Learn profile.
// INSERT ... ON CONFLICT makes concurrent first requests converge on one row.
func (s Learner) UpsertAccount(ctx context.Context, a learner.Account) (learner.Account, learner.LearnProfile, error) {
	var out learner.Account
	var lp learner.LearnProfile
	err := s.InTx(ctx, func(tx *Store) error {
		var r accountRow
		if err := tx.get(ctx, &r, upsertAccountSQL, a.Issuer, a.Subject, string(a.Kind), a.Email, a.DisplayName, a.CreatedAt); err != nil {
			return fmt.Errorf("upsert account: %w", err)
		}
		if _, err := tx.exec(ctx, ensureLearnProfileSQL, r.ID, a.CreatedAt); err != nil {
			return fmt.Errorf("ensure learn profile: %w", err)
		}
		var l learnProfileRow
		if err := tx.get(ctx, &l, learnProfileByAccountSQL, r.ID); err != nil {
			return fmt.Errorf("load learn profile: %w", err)
		}
		out, lp = r.domain(), l.domain()
		return nil
	})
	return out, lp, err
}

// LearnProfileByAccount loads the Learn profile of an account.
func (s Learner) LearnProfileByAccount(ctx context.Context, accountID uuid.UUID) (learner.LearnProfile, error) {
	var l learnProfileRow
	if err := s.get(ctx, &l, learnProfileByAccountSQL, accountID); err != nil {
		return learner.LearnProfile{}, notFound(err, "learn profile")
	}
	return l.domain(), nil
}

const accountsByIDsSQL = `
SELECT id, issuer, subject, kind, email, display_name, created_at FROM accounts WHERE id = ANY($1)`

// AccountsByIDs loads accounts in key order with a NOT_FOUND entry per missing key.
func (s Learner) AccountsByIDs(ctx context.Context, ids []uuid.UUID) ([]*learner.Account, []error) {
	var rows []accountRow
	if err := s.sel(ctx, &rows, accountsByIDsSQL, pq.Array(ids)); err != nil {
		return nil, fill(len(ids), err)
	}
	return inKeyOrder(ids, rows, func(r accountRow) (uuid.UUID, learner.Account) { return r.ID, r.domain() }, "account")
}

const learnProfilesByIDsSQL = `SELECT id, account_id, created_at FROM learn_profiles WHERE id = ANY($1)`

// LearnProfilesByIDs loads Learn profiles in key order.
func (s Learner) LearnProfilesByIDs(ctx context.Context, ids []uuid.UUID) ([]*learner.LearnProfile, []error) {
	var rows []learnProfileRow
	if err := s.sel(ctx, &rows, learnProfilesByIDsSQL, pq.Array(ids)); err != nil {
		return nil, fill(len(ids), err)
	}
	return inKeyOrder(ids, rows, func(r learnProfileRow) (uuid.UUID, learner.LearnProfile) { return r.ID, r.domain() }, "learn profile")
}

// fill returns n copies of err, the shape a failed batch load returns.
func fill(n int, err error) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// inKeyOrder arranges rows in the order of keys, with a NOT_FOUND error for each missing key.
func inKeyOrder[K comparable, R any, T any](keys []K, rows []R, conv func(R) (K, T), what string) ([]*T, []error) {
	byKey := make(map[K]*T, len(rows))
	for _, r := range rows {
		k, v := conv(r)
		byKey[k] = &v
	}
	out := make([]*T, len(keys))
	var errs []error
	for i, k := range keys {
		if v, ok := byKey[k]; ok {
			out[i] = v
			continue
		}
		if errs == nil {
			errs = make([]error, len(keys))
		}
		errs[i] = apperr.Missing(what)
	}
	return out, errs
}

// groupByKey arranges rows into one slice per key, in key order (for one-to-many loaders).
func groupByKey[K comparable, R any, T any](keys []K, rows []R, conv func(R) (K, T)) [][]T {
	byKey := make(map[K][]T, len(keys))
	for _, r := range rows {
		k, v := conv(r)
		byKey[k] = append(byKey[k], v)
	}
	out := make([][]T, len(keys))
	for i, k := range keys {
		out[i] = byKey[k]
	}
	return out
}
