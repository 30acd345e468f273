// Package graph is the GraphQL layer: resolvers decode ids, call one domain service method
// and wrap the result. No SQL and no business rules live here.
package graph

//go:generate sh -c "cd .. && go run github.com/99designs/gqlgen generate"

import (
	"log/slog"
	"time"

	"github.com/recert/recert/internal/calendar"
	"github.com/recert/recert/internal/catalog"
	"github.com/recert/recert/internal/certprofile"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/credential"
	"github.com/recert/recert/internal/learner"
	"github.com/recert/recert/internal/merge"
	"github.com/recert/recert/internal/notify"
	"github.com/recert/recert/internal/renewal"
	"github.com/recert/recert/internal/team"
	"github.com/recert/recert/internal/transcript"
	"github.com/recert/recert/internal/webhook"
)

// Services are the domain services the API runs on (server.go builds them on their postgres
// adapters: graph/app.NewServices).
type Services struct {
	Learner *learner.Service
	Catalog *catalog.Service
	// Profiles manages certification profiles (and, as it lands, linking).
	Profiles *certprofile.Service
	// Transcript records exam results and earned certifications, and shares transcripts.
	Transcripts *transcript.Service
	// Renewal runs renewal status, attempts and scoring.
	Renewals *renewal.Service
	// Merge previews and performs support merges.
	Merge *merge.Service
	// Notify lists and sends renewal reminders.
	Notify *notify.Service
	// Teams manages team access grants and answers team managers.
	Teams *team.Service
	// Credentials issues Open Badges credentials.
	Credentials *credential.Service
	// Calendar manages and serves calendar feeds.
	Calendar *calendar.Service
	// Webhooks manages webhook endpoints and their deliveries (admins).
	Webhooks *webhook.Service
}

// Resolver holds the domain services the API needs.
type Resolver struct {
	Services
	Clock clock.Clock
	Log   *slog.Logger
	// LoaderWait is how long the per-request loaders collect keys before a batch
	// (DefaultLoaderWait when zero). Tests that count batches widen it, so that a busy machine
	// scheduling the field goroutines slowly cannot split one batch into several.
	LoaderWait time.Duration
}
