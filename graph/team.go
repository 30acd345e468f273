package graph

import (
	"context"

	"github.com/google/uuid"
	"github.com/vikstrous/dataloadgen"

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
