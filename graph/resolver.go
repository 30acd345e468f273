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

// The resolver methods live in the graph/<area>.go file of their area (a mutation next to the
// reads of the same area), written by hand: gqlgen generates no resolver file (gqlgen.yml). The
// root methods below hand gqlgen one resolver type per object with resolver fields; a field
// added to the schema without its method fails to compile here, naming the missing method.
var _ ResolverRoot = (*Resolver)(nil)

// AssessmentAttempt returns AssessmentAttemptResolver implementation.
func (r *Resolver) AssessmentAttempt() AssessmentAttemptResolver {
	return &assessmentAttemptResolver{r}
}

// Certification returns CertificationResolver implementation.
func (r *Resolver) Certification() CertificationResolver { return &certificationResolver{r} }

// CertificationProfile returns CertificationProfileResolver implementation.
func (r *Resolver) CertificationProfile() CertificationProfileResolver {
	return &certificationProfileResolver{r}
}

// EarnedCertification returns EarnedCertificationResolver implementation.
func (r *Resolver) EarnedCertification() EarnedCertificationResolver {
	return &earnedCertificationResolver{r}
}

// Exam returns ExamResolver implementation.
func (r *Resolver) Exam() ExamResolver { return &examResolver{r} }

// ExamResult returns ExamResultResolver implementation.
func (r *Resolver) ExamResult() ExamResultResolver { return &examResultResolver{r} }

// LearnProfile returns LearnProfileResolver implementation.
func (r *Resolver) LearnProfile() LearnProfileResolver { return &learnProfileResolver{r} }

// MergePreview returns MergePreviewResolver implementation.
func (r *Resolver) MergePreview() MergePreviewResolver { return &mergePreviewResolver{r} }

// Mutation returns MutationResolver implementation.
func (r *Resolver) Mutation() MutationResolver { return &mutationResolver{r} }

// Notification returns NotificationResolver implementation.
func (r *Resolver) Notification() NotificationResolver { return &notificationResolver{r} }

// Query returns QueryResolver implementation.
func (r *Resolver) Query() QueryResolver { return &queryResolver{r} }

// Renewal returns RenewalResolver implementation.
func (r *Resolver) Renewal() RenewalResolver { return &renewalResolver{r} }

// RenewalAssessment returns RenewalAssessmentResolver implementation.
func (r *Resolver) RenewalAssessment() RenewalAssessmentResolver {
	return &renewalAssessmentResolver{r}
}

// Team returns TeamResolver implementation.
func (r *Resolver) Team() TeamResolver { return &teamResolver{r} }

// Transcript returns TranscriptResolver implementation.
func (r *Resolver) Transcript() TranscriptResolver { return &transcriptResolver{r} }

// Viewer returns ViewerResolver implementation.
func (r *Resolver) Viewer() ViewerResolver { return &viewerResolver{r} }

// WebhookEndpoint returns WebhookEndpointResolver implementation.
func (r *Resolver) WebhookEndpoint() WebhookEndpointResolver { return &webhookEndpointResolver{r} }

type (
	assessmentAttemptResolver    struct{ *Resolver }
	certificationResolver        struct{ *Resolver }
	certificationProfileResolver struct{ *Resolver }
	earnedCertificationResolver  struct{ *Resolver }
	examResolver                 struct{ *Resolver }
	examResultResolver           struct{ *Resolver }
	learnProfileResolver         struct{ *Resolver }
	mergePreviewResolver         struct{ *Resolver }
	mutationResolver             struct{ *Resolver }
	notificationResolver         struct{ *Resolver }
	queryResolver                struct{ *Resolver }
	renewalResolver              struct{ *Resolver }
	renewalAssessmentResolver    struct{ *Resolver }
	teamResolver                 struct{ *Resolver }
	transcriptResolver           struct{ *Resolver }
	viewerResolver               struct{ *Resolver }
	webhookEndpointResolver      struct{ *Resolver }
)
