package catalog

import (
	"context"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/clock"
)

// Filter narrows the certification list.
type Filter struct {
	Level     *Level
	Renewable *bool  // has a renewal programme (not fundamentals, assessment published)
	Search    string // part of the name or code, case- and accent-insensitive
}

// Store is the persistence the catalog needs.
type Store interface {
	// Certifications lists certifications ordered by code after the code `after`, at most limit.
	Certifications(ctx context.Context, f Filter, after string, limit int) ([]Certification, error)
	CountCertifications(ctx context.Context, f Filter) (int, error)
	CertificationByCode(ctx context.Context, code string) (Certification, error)
	Public
}

// Public are the catalog's batch readers, in key order. The catalog is public (docs/domain.md "Catalog"):
// they have no reader rule, and are all a loader may reach of the catalog.
type Public interface {
	CertificationsByIDs(ctx context.Context, ids []uuid.UUID) ([]*Certification, []error)
	PrerequisitesByCertIDs(ctx context.Context, ids []uuid.UUID) ([][]Certification, error)
	PathsByCertIDs(ctx context.Context, ids []uuid.UUID) ([][][]string, error)
	ExamsByCodes(ctx context.Context, codes []string) ([]*Exam, []error)
	CurrentAssessmentsByCertIDs(ctx context.Context, ids []uuid.UUID) ([]*Assessment, error)
	AssessmentsByVersionIDs(ctx context.Context, ids []uuid.UUID) ([]*Assessment, []error)
	ModulesByVersionIDs(ctx context.Context, ids []uuid.UUID) ([][]Module, error)
}

// Service reads (and, for admins, changes) the catalog.
type Service struct {
	store Store
	clock clock.Clock
	// Replica, when set, answers the catalog reads of every caller but catalog admins, who
	// read what they have just written from the primary (read-your-writes). The catalog is
	// public and changes rarely, so a replica a moment behind shows what the primary showed a
	// moment ago (docs/operations.md "Read replicas").
	Replica Store
}

// reads is the store p's catalog reads go to.
func (s *Service) reads(p *auth.Principal) Store {
	if s.Replica != nil && !p.HasRole(auth.RoleAdmin) {
		return s.Replica
	}
	return s.store
}

// NewService returns a catalog Service on store.
func NewService(store Store, clk clock.Clock) *Service { return &Service{store: store, clock: clk} }

// List returns a page of certifications ordered by code, and whether more follow.
func (s *Service) List(ctx context.Context, p *auth.Principal, f Filter, after string, first int) ([]Certification, bool, error) {
	items, err := s.reads(p).Certifications(ctx, f, after, first+1)
	if err != nil {
		return nil, false, err
	}
	if len(items) > first {
		return items[:first], true, nil
	}
	return items, false, nil
}

// Count returns how many certifications match f.
func (s *Service) Count(ctx context.Context, p *auth.Principal, f Filter) (int, error) {
	return s.reads(p).CountCertifications(ctx, f)
}

// ByCode returns one certification. Codes: NOT_FOUND.
func (s *Service) ByCode(ctx context.Context, p *auth.Principal, code string) (Certification, error) {
	return s.reads(p).CertificationByCode(ctx, code)
}

// Public returns the catalog's batch readers for p's requests (for the API's loaders).
func (s *Service) Public(p *auth.Principal) Public { return s.reads(p) }
