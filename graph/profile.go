package graph

import (
	"context"
	"encoding/json"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/learner"
	"github.com/recert/recert/internal/renewal"
)

// profileLoaders batch the certification profile lookups of one request.
type profileLoaders struct {
	Profile *dataloadgen.Loader[uuid.UUID, *certprofile.Profile]
	// AlternateEmails by certification profile id.
	AlternateEmails *dataloadgen.Loader[uuid.UUID, []string]
	// LinkByProfile and LinkByLearnProfile give the link of either side, nil when none.
	LinkByProfile      *dataloadgen.Loader[uuid.UUID, *certprofile.Link]
	LinkByLearnProfile *dataloadgen.Loader[uuid.UUID, *certprofile.Link]
}

func newProfileLoaders(r *Resolver) *profileLoaders {
	w := r.loaderWait()
	return &profileLoaders{
		Profile:            dataloadgen.NewLoader(withCaller(r.Profiles.ProfilesByIDs), w),
		AlternateEmails:    dataloadgen.NewLoader(many(r.Profiles.AlternateEmailsByIDs), w),
		LinkByProfile:      dataloadgen.NewLoader(many(r.Profiles.LinksByProfileIDs), w),
		LinkByLearnProfile: dataloadgen.NewLoader(many(r.Profiles.LinksByLearnProfileIDs), w),
	}
}

// forgetLinks drops cached links after a mutation changed them, so the payload (and any later
// field of the same operation) reads the new state.
func forgetLinks(ctx context.Context) {
	l := loaders(ctx).Profiles
	l.LinkByProfile.ClearAll()
	l.LinkByLearnProfile.ClearAll()
}

// CreateCertificationProfile is the resolver for the createCertificationProfile field.
func (r *mutationResolver) CreateCertificationProfile(ctx context.Context, in model.CreateCertificationProfileInput) (*model.CreateCertificationProfilePayload, error) {
	p, err := r.Profiles.Create(ctx, auth.PrincipalFrom(ctx), certprofile.NewProfile{
		LegalName: in.LegalName, Email: in.Email, PreferredLanguage: in.PreferredLanguage,
		IdempotencyKey: in.IdempotencyKey,
	})
	if err != nil {
		return nil, err
	}
	return &model.CreateCertificationProfilePayload{CertificationProfile: &p}, nil
}

// CertificationProfile is the resolver for the certificationProfile field.
func (r *queryResolver) CertificationProfile(ctx context.Context, mcid string) (*certprofile.Profile, error) {
	caller := auth.PrincipalFrom(ctx)
	var p certprofile.Profile
	var link *certprofile.Link
	var err error
	read := false
	if key, ok := pageBelow(ctx); ok {
		// The profile and the one page of earned certifications asked below it, and the
		// caller's account when authentication left it to this screen: one statement.
		var res renewal.ProfileAndPage
		res, err = r.Renewals.ProfilePage(ctx, caller, mcid, key.query(r.Transcripts.Today()), r.Learner)
		if res.Caller != nil {
			PrimeCaller(ctx, res.Caller.Account, res.Caller.LearnProfile)
		}
		p, link, read = res.Profile, res.Link, res.Read
		if read && err == nil && res.Page != nil {
			key.profile = p.ID
			loaders(ctx).Transcript.knowPage(key, *res.Page)
		}
	}
	if !read && err == nil { // not asked, or nothing read: a missing profile or an empty page
		if err = r.identify(ctx); err == nil {
			p, link, err = r.Profiles.ByMCIDWithLink(ctx, caller, mcid)
		}
	}
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	// Fields below (learnProfile, renewal status) look the profile and its link up by id:
	// both were read by the same statement.
	loaders(ctx).Profiles.Profile.Prime(p.ID, &p)
	loaders(ctx).Profiles.LinkByProfile.Prime(p.ID, link)
	return &p, nil
}

// CertificationProfiles is the resolver for the certificationProfiles field.
func (r *viewerResolver) CertificationProfiles(ctx context.Context, obj *model.Viewer) ([]*certprofile.Profile, error) {
	list, err := r.Profiles.Mine(ctx, auth.PrincipalFrom(ctx))
	out := ptrs(list)
	for _, p := range out {
		loaders(ctx).Profiles.Profile.Prime(p.ID, p)
	}
	return out, err
}

// MergedInto is the survivor of a merged profile, when the caller may see it (a duplicate's
// owner is not necessarily the survivor's).
func (r *certificationProfileResolver) MergedInto(ctx context.Context, p *certprofile.Profile) (*certprofile.Profile, error) {
	if p.MergedInto == nil {
		return nil, nil
	}
	s, err := loaders(ctx).Profiles.Profile.Load(ctx, *p.MergedInto)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil // the reader shows only what the caller may view
	}
	return s, err
}

// AlternateEmails is the resolver for the alternateEmails field.
func (r *certificationProfileResolver) AlternateEmails(ctx context.Context, p *certprofile.Profile) ([]string, error) {
	return loaders(ctx).Profiles.AlternateEmails.Load(ctx, p.ID)
}

// LearnProfile is the Learn profile connected to p, when the caller may see it
// (learner.MayView).
func (r *certificationProfileResolver) LearnProfile(ctx context.Context, p *certprofile.Profile) (*learner.LearnProfile, error) {
	l, err := loaders(ctx).Profiles.LinkByProfile.Load(ctx, p.ID)
	if err != nil || l == nil {
		return nil, err
	}
	loaders(ctx).Profiles.LinkByLearnProfile.Prime(l.LearnProfileID, l) // the same link, for linkedAt
	lp, err := loaders(ctx).LearnProfile.Load(ctx, l.LearnProfileID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil // someone else's: the learner reader does not show it
	}
	return lp, err
}

// CertificationProfile is the certification profile connected to lp, when the caller may
// see it.
func (r *learnProfileResolver) CertificationProfile(ctx context.Context, lp *learner.LearnProfile) (*certprofile.Profile, error) {
	l, err := loaders(ctx).Profiles.LinkByLearnProfile.Load(ctx, lp.ID)
	if err != nil || l == nil {
		return nil, err
	}
	p, err := loaders(ctx).Profiles.Profile.Load(ctx, l.CertificationProfileID)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil // the reader shows only what the caller may view
	}
	return p, err
}

// LinkedAt is the resolver for the linkedAt field.
func (r *learnProfileResolver) LinkedAt(ctx context.Context, lp *learner.LearnProfile) (*time.Time, error) {
	l, err := loaders(ctx).Profiles.LinkByLearnProfile.Load(ctx, lp.ID)
	if err != nil || l == nil {
		return nil, err
	}
	t := l.LinkedAt
	return &t, nil
}

// linkSides loads the two sides of a Link or Unlink outcome.
func linkSides(ctx context.Context, out certprofile.Linked) (*learner.LearnProfile, *certprofile.Profile, error) {
	forgetLinks(ctx)
	lp, err := loaders(ctx).LearnProfile.Load(ctx, out.LearnProfileID)
	if err != nil {
		return nil, nil, err
	}
	return lp, &out.Profile, nil
}

// LinkCertificationProfile is the resolver for the linkCertificationProfile field.
func (r *mutationResolver) LinkCertificationProfile(ctx context.Context, in model.LinkCertificationProfileInput) (*model.LinkCertificationProfilePayload, error) {
	id, err := decodeID(in.CertificationProfileID, kindProfile)
	if err != nil {
		return nil, err
	}
	out, err := r.Profiles.Link(ctx, auth.PrincipalFrom(ctx), id)
	if err != nil {
		return nil, err
	}
	lp, p, err := linkSides(ctx, out)
	if err != nil {
		return nil, err
	}
	return &model.LinkCertificationProfilePayload{LearnProfile: lp, CertificationProfile: p}, nil
}

// UnlinkCertificationProfile is the resolver for the unlinkCertificationProfile field.
func (r *mutationResolver) UnlinkCertificationProfile(ctx context.Context, in model.UnlinkCertificationProfileInput) (*model.UnlinkCertificationProfilePayload, error) {
	id, err := decodeID(in.CertificationProfileID, kindProfile)
	if err != nil {
		return nil, err
	}
	out, err := r.Profiles.Unlink(ctx, auth.PrincipalFrom(ctx), id)
	if err != nil {
		return nil, err
	}
	lp, p, err := linkSides(ctx, out)
	if err != nil {
		return nil, err
	}
	return &model.UnlinkCertificationProfilePayload{LearnProfile: lp, CertificationProfile: p}, nil
}

// SearchCertificationProfiles is the resolver for the searchCertificationProfiles field.
func (r *queryResolver) SearchCertificationProfiles(ctx context.Context, query string, first *int, after *string) (*model.CertificationProfileConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	ok, fold, id, err := keysetCursor(after, func(s string) (string, error) { return s, nil })
	if err != nil {
		return nil, err
	}
	var from *certprofile.SearchKey
	if ok {
		from = &certprofile.SearchKey{Fold: fold, ID: id}
	}
	p := auth.PrincipalFrom(ctx)
	hits, more, err := r.Profiles.Search(ctx, p, query, from, n)
	if err != nil {
		return nil, err
	}
	conn := &model.CertificationProfileConnection{}
	conn.Edges, conn.Nodes, conn.PageInfo = connection(hits, more, after,
		func(h *certprofile.Hit) *certprofile.Profile { return &h.Profile },
		func(h *certprofile.Hit) string { return encodeCursor(h.Key.Fold, h.Key.ID.String()) },
		func(cur string, p *certprofile.Profile) *model.CertificationProfileEdge {
			return &model.CertificationProfileEdge{Cursor: cur, Node: p}
		})
	for _, p := range conn.Nodes {
		loaders(ctx).Profiles.Profile.Prime(p.ID, p)
	}
	if wantsField(ctx, "totalCount") {
		if conn.TotalCount, err = r.Profiles.CountSearch(ctx, p, query); err != nil {
			return nil, err
		}
	}
	return conn, nil
}

// profileNode resolves a CertificationProfile id for its owner or support.
func (r *Resolver) profileNode(ctx context.Context, id uuid.UUID) (*certprofile.Profile, error) {
	return loaders(ctx).Profiles.Profile.Load(ctx, id) // NOT_FOUND for anyone else's
}

// pageBelow is the page of earned certifications the current field (a CertificationProfile)
// asks for, when it is resolved once in the operation and asks for exactly one page, without a
// cursor or a status filter (a dashboard): ok is false otherwise. The key's profile is left
// unset.
func pageBelow(ctx context.Context) (earnedPageKey, bool) {
	oc, fc := graphql.GetOperationContext(ctx), graphql.GetFieldContext(ctx)
	if oc == nil || fc == nil || !alone(ctx) {
		return earnedPageKey{}, false
	}
	var page *graphql.CollectedField
	for _, f := range graphql.CollectFields(oc, fc.Field.Selections, []string{"CertificationProfile", "Node"}) {
		if f.Name == "certifications" {
			if page != nil {
				return earnedPageKey{}, false
			}
			page = &f
		}
	}
	if page == nil {
		return earnedPageKey{}, false
	}
	args := page.ArgumentMap(oc.Variables)
	if args["after"] != nil || args["status"] != nil {
		return earnedPageKey{}, false
	}
	var first *int
	switch v := args["first"].(type) {
	case nil:
	case int64:
		n := int(v)
		first = &n
	case json.Number:
		n64, err := v.Int64()
		if err != nil {
			return earnedPageKey{}, false
		}
		n := int(n64)
		first = &n
	default:
		return earnedPageKey{}, false
	}
	child := graphql.WithFieldContext(ctx, &graphql.FieldContext{Parent: fc, Object: "CertificationProfile", Field: *page})
	key, err := earnedPageKeyOf(child, uuid.Nil, first, nil, nil)
	return key, err == nil
}

// Account is the resolver for the account field.
func (r *learnProfileResolver) Account(ctx context.Context, obj *learner.LearnProfile) (*learner.Account, error) {
	return loaders(ctx).Account.Load(ctx, obj.AccountID)
}
