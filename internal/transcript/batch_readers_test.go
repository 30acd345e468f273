package transcript_test

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/app/apitest"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
)

// The batch readers behind the profile and earned certification loaders apply the read rule
// themselves (issue 12): the owner and support get the records, anyone else (or anonymous) a
// NOT_FOUND per key, exactly as for a key that does not exist.
func TestBatchReadersApplyTheReadRule(t *testing.T) {
	env := apitest.New(t)
	p := newProfile(t, env, "batch-owner", "Batch Owner")
	record(t, env, resultInput(p.MCID, "AZ-900", "2021-02-01T09:00:00Z", "batch-1"))
	env.MustDo(apitest.Learner("batch-stranger"), `{ viewer { account { id } } }`, nil, nil)
	var profileID, earnedID uuid.UUID
	if err := env.DB.QueryRow(`SELECT p.id, e.id FROM certification_profiles p
JOIN earned_certifications e ON e.profile_id = p.id WHERE p.mcid = $1`, p.MCID).Scan(&profileID, &earnedID); err != nil {
		t.Fatal(err)
	}
	principal := func(sub string, roles ...string) *auth.Principal {
		pr := &auth.Principal{Issuer: apitest.Issuer, Subject: sub, Roles: roles}
		_ = env.DB.Get(&pr.AccountID, `SELECT id FROM accounts WHERE subject = $1`, sub) // none for support here
		return pr
	}
	ctx := context.Background()
	res := env.Server.Resolver
	missing := uuid.New()
	for _, c := range []struct {
		name string
		p    *auth.Principal
		sees bool
	}{
		{"owner", principal("batch-owner"), true},
		{"support", principal("batch-support", auth.RoleSupport), true},
		{"stranger", principal("batch-stranger"), false},
		{"anonymous", nil, false},
	} {
		// got: the reader returned the record for the first key; errs: its per-key errors.
		check := func(reader string, got bool, errs []error) {
			if got != c.sees || (c.sees && errs[0] != nil) || (!c.sees && apperr.CodeOf(errs[0]) != apperr.NotFound) {
				t.Errorf("%s: %s gave the record %v, error %v; want visible %v, else NOT_FOUND", c.name, reader, got, errs[0], c.sees)
			}
			if apperr.CodeOf(errs[1]) != apperr.NotFound {
				t.Errorf("%s: %s gave %v for a missing key", c.name, reader, errs[1])
			}
		}
		profiles, errs := res.Profiles.ProfilesByIDs(ctx, c.p, []uuid.UUID{profileID, missing})
		check("ProfilesByIDs", profiles[0] != nil && profiles[0].ID == profileID, errs)
		earned, errs := res.Transcripts.EarnedByIDs(ctx, c.p, []uuid.UUID{earnedID, missing})
		check("EarnedByIDs", earned[0] != nil && earned[0].ID == earnedID, errs)
	}
}
