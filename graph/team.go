package graph

import (
	"context"

	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/graph/node"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/team"
)

// teamLoaders batch the team view's per-profile lists.
type teamLoaders struct {
	// Grants are a profile's team access grants, for its owner (team.Service.GrantsOf).
	Grants *dataloadgen.Loader[*certprofile.Profile, []team.Grant]
}

func newTeamLoaders(r *Resolver) *teamLoaders {
	return &teamLoaders{Grants: dataloadgen.NewLoader(withCaller(r.Teams.GrantsOf), r.loaderWait())}
}

// teamMemberCursor is the cursor of a member: its position in the list it was read from.
func teamMemberCursor(m *team.Member) string {
	return encodeCursor(m.Position.Key, m.Position.GrantID.String())
}

// teamNode resolves a TeamAccessGrant id for its profile's owner.
func (r *Resolver) teamNode(ctx context.Context, id uuid.UUID) (node.Node, error) {
	g, err := r.Teams.GrantByID(ctx, auth.PrincipalFrom(ctx), id)
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// TeamAccessGrants is the resolver for the teamAccessGrants field.
func (r *certificationProfileResolver) TeamAccessGrants(ctx context.Context, obj *certprofile.Profile) ([]*team.Grant, error) {
	list, err := loaders(ctx).Team.Grants.Load(ctx, obj)
	return ptrs(list), err
}

// GrantTeamAccess is the resolver for the grantTeamAccess field.
func (r *mutationResolver) GrantTeamAccess(ctx context.Context, input model.GrantTeamAccessInput) (*model.GrantTeamAccessPayload, error) {
	id, err := decodeID(input.CertificationProfileID, kindProfile)
	if err != nil {
		return nil, err
	}
	g, err := r.Teams.Grant(ctx, auth.PrincipalFrom(ctx), id, input.TenantID)
	if err != nil {
		return nil, err
	}
	return &model.GrantTeamAccessPayload{TeamAccessGrant: &g}, nil
}

// RevokeTeamAccess is the resolver for the revokeTeamAccess field.
func (r *mutationResolver) RevokeTeamAccess(ctx context.Context, input model.RevokeTeamAccessInput) (*model.RevokeTeamAccessPayload, error) {
	id, err := decodeID(input.TeamAccessGrantID, kindTeamGrant)
	if err != nil {
		return nil, err
	}
	g, err := r.Teams.Revoke(ctx, auth.PrincipalFrom(ctx), id)
	if err != nil {
		return nil, err
	}
	return &model.RevokeTeamAccessPayload{TeamAccessGrant: &g}, nil
}

// Team is the resolver for the team field.
func (r *queryResolver) Team(ctx context.Context) (*team.Team, error) {
	return team.Of(auth.PrincipalFrom(ctx)), nil
}

// Members is the resolver for the members field.
func (r *teamResolver) Members(ctx context.Context, obj *team.Team, first *int, after *string, expiringWithinDays *int) (*model.TeamMemberConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	var pos *team.Position
	if ok, key, id, err := keysetCursor(after, func(s string) (string, error) { return s, nil }); err != nil {
		return nil, err
	} else if ok {
		pos = &team.Position{Key: key, GrantID: id}
	}
	pg, err := r.Teams.Members(ctx, auth.PrincipalFrom(ctx), team.Filter{ExpiringWithinDays: expiringWithinDays}, pos, n)
	if err != nil {
		return nil, err
	}
	edges, _, info := connection(pg.Members, pg.More, after, self, teamMemberCursor,
		func(c string, m *team.Member) *model.TeamMemberEdge { return &model.TeamMemberEdge{Cursor: c, Node: m} })
	return &model.TeamMemberConnection{Edges: edges, PageInfo: info}, nil
}
