// Package graph is the GraphQL layer: resolvers decode ids, call one domain service method
// and wrap the result. No SQL and no business rules live here.
package graph

//go:generate sh -c "cd .. && go run github.com/99designs/gqlgen generate"

import (
	"log/slog"

	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/learner"
)

// Resolver holds the domain services the API needs.
type Resolver struct {
	Clock   clock.Clock
	Log     *slog.Logger
	Learner *learner.Service
	Catalog *catalog.Service
	// Profiles manages certification profiles (and, as it lands, linking).
	Profiles *certprofile.Service
}
