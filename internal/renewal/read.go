package renewal

import (
	"context"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/transcript"
)

// PageFacts is what the store reads, in one statement, for one profile's page of earned
// certifications with their renewal status: the page (certifications and current
// assessments included), whether the profile is connected, and for each row the attempts the
// renewal rules look at (those of its current cycle, and any in progress).
type PageFacts struct {
	transcript.EarnedPage
	Linked   bool
	Attempts [][]Attempt
}

// Page is one profile's page of earned certifications as its reader sees it: each row with its
// RenewalStatus, computed by StatusOf, the rule Start applies.
type Page struct {
	transcript.EarnedPage
	// Statuses holds the renewal status of each row of Earned (nil when it was not asked for).
	Statuses []Status
}

// Pages reads, for profiles p may read the history of (transcript.CanReadHistory: the owner
// or support), one page of earned certifications each, in profile order, with every row's
// renewal status: one statement for all of them, whatever the page length.
// Codes: UNAUTHENTICATED, FORBIDDEN.
func (s *Service) Pages(ctx context.Context, p *auth.Principal, profiles []*certprofile.Profile, q transcript.EarnedQuery) ([]Page, error) {
	ids := make([]uuid.UUID, len(profiles))
	for i, prof := range profiles {
		if err := transcript.CanReadHistory(p, prof); err != nil {
			return nil, err
		}
		ids[i] = prof.ID
	}
	facts, err := s.store.StatusPages(ctx, ids, q)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	out := make([]Page, len(facts))
	for i := range facts {
		f := &facts[i]
		out[i].EarnedPage = f.EarnedPage
		out[i].Statuses = make([]Status, len(f.Earned))
		for j := range f.Earned {
			out[i].Statuses[j] = StatusOf(Facts{Earned: f.Earned[j], Certification: f.Certifications[j],
				Assessment: f.Assessments[j], Linked: f.Linked, Attempts: f.Attempts[j]}, now)
		}
	}
	return out, nil
}
