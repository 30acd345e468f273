package postgres_test

import (
	"context"
	"testing"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/postgres"
	"github.com/recert/recert/internal/postgres/pgtest"
)

// Text PostgreSQL cannot hold (a NUL: 22021) that gets past querylimits.InputGuard is the caller's
// mistake, BAD_USER_INPUT, not an internal error.
func TestUnstorableTextIsBadUserInput(t *testing.T) {
	store := postgres.New(pgtest.New(t))
	ctx := context.Background()
	_, err := postgres.Catalog{Store: store}.CertificationByCode(ctx, "AZ\x00900")
	if apperr.CodeOf(err) != apperr.BadUserInput {
		t.Errorf("lookup: got %v, want BAD_USER_INPUT", err)
	}
	_, err = postgres.Catalog{Store: store}.Certifications(ctx, catalog.Filter{Search: "a\x00"}, "", 10)
	if apperr.CodeOf(err) != apperr.BadUserInput {
		t.Errorf("list: got %v, want BAD_USER_INPUT", err)
	}
}
