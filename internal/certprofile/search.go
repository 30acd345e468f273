package certprofile

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
)

// Mode is what a support search looks at, chosen from the shape of the query.
type Mode int

// The search modes.
const (
	// ByMCID: the query is all digits; exact MCID.
	ByMCID Mode = iota + 1
	// ByEmail: the query holds an @; the contact email or an alternate one, exactly,
	// ignoring case.
	ByEmail
	// ByName: anything else; part of the legal name, ignoring case and accents.
	ByName
)

// The bounds of a search query. A name search needs MinNameQuery characters once folded
// (the form names are compared in, which may be longer or shorter than the query: ⑽ folds
// to "(10)", a combining accent to nothing): the trigram index behind it can only narrow a
// search down with at least one whole trigram.
const (
	MinNameQuery = 3
	MaxQuery     = 200
)

// Query is a parsed support search.
type Query struct {
	Mode Mode
	MCID int64  // ByMCID
	Text string // ByEmail (as given) and ByName (trimmed; folded by the database)
}

// errShortName refuses a name query of fewer than MinNameQuery folded characters.
var errShortName = apperr.Invalid("a name query needs at least %d characters", MinNameQuery)

// SearchKey is the keyset position of a hit: the folded legal name, then the id.
type SearchKey struct {
	Fold string
	ID   uuid.UUID
}

// Hit is a search result and its keyset position.
type Hit struct {
	Profile Profile
	Key     SearchKey
}

// ParseQuery reads a support search query: all digits is an MCID, a query holding @ is an
// email, anything else is part of a legal name. The length of a name query is checked once
// folded, by the Service. Codes: BAD_USER_INPUT (empty, too long, control characters).
func ParseQuery(s string) (Query, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case s == "":
		return Query{}, apperr.Invalid("query must not be empty: give an MCID, an email or part of a legal name")
	case n > MaxQuery || !utf8.ValidString(s) || hasControl(s):
		return Query{}, apperr.Invalid("query must be at most %d characters, without control characters", MaxQuery)
	case strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }) < 0:
		mcid, err := ParseMCID(s)
		if err != nil {
			return Query{}, err
		}
		return Query{Mode: ByMCID, MCID: mcid}, nil
	case strings.Contains(s, "@"):
		if strings.ContainsFunc(s, unicode.IsSpace) {
			return Query{}, apperr.Invalid("an email query must be one address, without spaces")
		}
		return Query{Mode: ByEmail, Text: s}, nil
	default:
		return Query{Mode: ByName, Text: s}, nil
	}
}

// parse reads a support search query and checks the length of a name query in folded
// characters. Codes: BAD_USER_INPUT.
func (s *Service) parse(ctx context.Context, query string) (Query, error) {
	q, err := ParseQuery(query)
	if err != nil || q.Mode != ByName {
		return q, err
	}
	fold, err := s.store.FoldSearch(ctx, q.Text)
	if err != nil {
		return Query{}, err
	}
	if utf8.RuneCountInString(fold) < MinNameQuery {
		return Query{}, errShortName
	}
	return q, nil
}

// checkSupport lets support agents through. Codes: UNAUTHENTICATED, FORBIDDEN.
func checkSupport(p *auth.Principal) error {
	if p == nil {
		return apperr.Unauth("sign in to search certification profiles")
	}
	if !p.HasRole(auth.RoleSupport) {
		return apperr.Deny("only support agents can search certification profiles")
	}
	return nil
}

// Search finds certification profiles for support by MCID, email (including alternates) or
// part of the legal name (docs/domain.md "People and identities"), active and merged alike, ordered by
// folded legal name then id, keyset-paginated after `after`. It returns up to first hits and
// whether more follow. Codes: UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT.
func (s *Service) Search(ctx context.Context, p *auth.Principal, query string, after *SearchKey, first int) ([]Hit, bool, error) {
	if err := checkSupport(p); err != nil {
		return nil, false, err
	}
	q, err := s.parse(ctx, query)
	if err != nil {
		return nil, false, err
	}
	hits, err := s.store.SearchProfiles(ctx, q, after, first+1)
	if err != nil {
		return nil, false, err
	}
	if len(hits) > first {
		return hits[:first], true, nil
	}
	return hits, false, nil
}

// CountSearch counts the profiles Search would find over all pages.
// Codes: UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT.
func (s *Service) CountSearch(ctx context.Context, p *auth.Principal, query string) (int, error) {
	if err := checkSupport(p); err != nil {
		return 0, err
	}
	q, err := s.parse(ctx, query)
	if err != nil {
		return 0, err
	}
	return s.store.CountProfiles(ctx, q)
}
