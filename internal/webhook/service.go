package webhook

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/audit"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/clock"
	"github.com/recert/recert/internal/date"
	"github.com/recert/recert/internal/idem"
)

// Store is the persistence of endpoints and deliveries.
type Store interface {
	// InTx runs fn in one transaction.
	InTx(ctx context.Context, fn func(tx Store) error) error
	// ClaimKey and StoreResponse keep Create's idempotency keys.
	idem.Store
	// InsertAudit records the audit event of an admin's action, in the action's transaction.
	audit.Store
	// InsertEndpoint stores a new endpoint with its secret.
	InsertEndpoint(ctx context.Context, e Endpoint, secret, createdBy string) (Endpoint, error)
	// RotateSecret replaces an endpoint's secret; the current one becomes the previous one,
	// valid until previousUntil. NOT_FOUND when there is no such endpoint.
	RotateSecret(ctx context.Context, id uuid.UUID, secret string, previousUntil time.Time) (Endpoint, error)
	// DeleteEndpoint deletes an endpoint and its deliveries and returns it. NOT_FOUND when
	// there is none.
	DeleteEndpoint(ctx context.Context, id uuid.UUID) (Endpoint, error)
	// Endpoints lists endpoints, oldest first, after the cursor; it reports whether more follow.
	Endpoints(ctx context.Context, after *Cursor, limit int) ([]Endpoint, bool, error)
	// Deliveries lists an endpoint's deliveries, newest first, after the cursor.
	Deliveries(ctx context.Context, endpointID uuid.UUID, after *Cursor, limit int) ([]Delivery, bool, error)
	// Replay adds a new delivery of a delivery's event to its endpoint, due at now.
	// NOT_FOUND when there is no such delivery.
	Replay(ctx context.Context, deliveryID uuid.UUID, now time.Time) (Delivery, error)
	// ExpirePass writes, once per (earned certification, expiry date), the
	// CERTIFICATION_EXPIRED event of every current certification whose expiry date is in
	// (today - ExpiryLookback, today], with its deliveries; it returns how many events it wrote.
	ExpirePass(ctx context.Context, now time.Time, today date.Date) (int, error)
	// ClaimDelivery leases one due delivery of an enabled endpoint until now + lease, skipping
	// rows other senders are claiming, in one committed statement: the delivery is not due
	// for anyone until the lease ends, which is also the lease's token. Nil when none is due.
	ClaimDelivery(ctx context.Context, now time.Time, lease time.Duration) (Claim, error)
}

// The audit actions of the admin mutations: each success writes one event (actor, the endpoint
// or delivery acted on, what changed; never a secret) in the transaction of the change, and a
// refused or failed action writes none. They concern no certification profile.
const (
	ActionCreate = "webhook.createEndpoint"
	ActionRotate = "webhook.rotateSecret"
	ActionDelete = "webhook.deleteEndpoint"
	ActionReplay = "webhook.replayDelivery"
)

// record writes the audit event of action by p at now, with details, through tx.
func record(ctx context.Context, tx Store, action string, p *auth.Principal, now time.Time, details any) error {
	ev, err := audit.New(action, p.Identity(), details, now)
	if err != nil {
		return err
	}
	if _, err := tx.InsertAudit(ctx, ev); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// endpointDetails is what an audit event says of an endpoint.
func endpointDetails(e Endpoint) map[string]any {
	return map[string]any{"endpointId": e.ID, "url": e.URL, "events": e.Events, "description": e.Description}
}

// Service is what the API does with webhooks: admins only.
type Service struct {
	store      Store
	clock      clock.Clock
	production bool
}

// NewService returns a Service on store; production applies CheckURL's production rules.
func NewService(store Store, clk clock.Clock, production bool) *Service {
	return &Service{store: store, clock: clk, production: production}
}

// MaxDescription caps an endpoint's description.
const MaxDescription = 2000

// Created is a new endpoint and its secret, shown this once.
type Created struct {
	Endpoint Endpoint
	Secret   string
}

// checkAdmin lets admins through. Codes: UNAUTHENTICATED, FORBIDDEN.
func checkAdmin(p *auth.Principal) error {
	if p == nil {
		return apperr.Unauth("sign in to manage webhooks")
	}
	if !p.HasRole(auth.RoleAdmin) {
		return apperr.Deny("only admins can manage webhooks")
	}
	return nil
}

// Create registers an endpoint for events and returns it with its new secret.
// Codes: UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT (url, empty or unknown events, a
// description over MaxDescription characters; a blank or too long key), IDEMPOTENCY_KEY_REUSED.
// With an idempotency key (key non-nil), a repeat by the same admin with the same URL, events
// and description returns the first endpoint and secret and writes nothing (package idem).
func (s *Service) Create(ctx context.Context, p *auth.Principal, rawURL string, events []EventType, description *string, key *string) (Created, error) {
	if err := checkAdmin(p); err != nil {
		return Created{}, err
	}
	u, err := CheckURL(strings.TrimSpace(rawURL), s.production)
	if err != nil {
		return Created{}, err
	}
	evs, err := normalizeEvents(events)
	if err != nil {
		return Created{}, err
	}
	if description != nil {
		d := strings.TrimSpace(*description)
		if utf8.RuneCountInString(d) > MaxDescription {
			return Created{}, apperr.Invalid("description must be at most %d characters", MaxDescription).With("field", "description")
		}
		description = &d
		if d == "" {
			description = nil
		}
	}
	now := s.clock.Now()
	k, err := idem.Own(p, CreateScope, key, now, idem.Retention, u, evs, description)
	if err != nil {
		return Created{}, err
	}
	var out Created
	err = s.store.InTx(ctx, func(tx Store) error {
		out, _, err = idem.Once(ctx, tx, k, idem.Refusals{}, func() (Created, error) {
			secret := NewSecret()
			e, err := tx.InsertEndpoint(ctx, Endpoint{URL: u, Events: evs, Description: description, CreatedAt: now},
				secret, p.Identity())
			if err != nil {
				return Created{}, err
			}
			return Created{Endpoint: e, Secret: secret}, record(ctx, tx, ActionCreate, p, now, endpointDetails(e))
		})
		return err
	})
	if err != nil {
		return Created{}, fmt.Errorf("create webhook endpoint: %w", err)
	}
	return out, nil
}

// CreateScope is the idempotency key scope of Create.
const CreateScope = "createWebhookEndpoint"

// normalizeEvents refuses an empty or unknown list and drops repeats.
func normalizeEvents(events []EventType) ([]EventType, error) {
	if len(events) == 0 {
		return nil, apperr.Invalid("events must name at least one event type").With("field", "events")
	}
	var out []EventType
	seen := map[EventType]bool{}
	for _, e := range events {
		if !e.Valid() {
			return nil, apperr.Invalid("unknown event type %q", e).With("field", "events")
		}
		if !seen[e] {
			seen[e] = true
			out = append(out, e)
		}
	}
	return out, nil
}

// Rotate gives an endpoint a new secret, returned this once; the previous one keeps signing
// for RotationOverlap. Audited (ActionRotate). Codes: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND.
func (s *Service) Rotate(ctx context.Context, p *auth.Principal, id uuid.UUID) (Created, error) {
	if err := checkAdmin(p); err != nil {
		return Created{}, err
	}
	now := s.clock.Now()
	out := Created{Secret: NewSecret()}
	err := s.store.InTx(ctx, func(tx Store) error {
		e, err := tx.RotateSecret(ctx, id, out.Secret, now.Add(RotationOverlap))
		if err != nil {
			return err
		}
		out.Endpoint = e
		return record(ctx, tx, ActionRotate, p, now, map[string]any{
			"endpointId": e.ID, "url": e.URL, "previousSecretExpiresAt": e.PreviousSecretExpiresAt})
	})
	if err != nil {
		return Created{}, fmt.Errorf("rotate webhook secret: %w", err)
	}
	return out, nil
}

// Delete removes an endpoint and its deliveries. Audited (ActionDelete).
// Codes: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND.
func (s *Service) Delete(ctx context.Context, p *auth.Principal, id uuid.UUID) (Endpoint, error) {
	if err := checkAdmin(p); err != nil {
		return Endpoint{}, err
	}
	now := s.clock.Now()
	var out Endpoint
	err := s.store.InTx(ctx, func(tx Store) (err error) {
		if out, err = tx.DeleteEndpoint(ctx, id); err != nil {
			return err
		}
		return record(ctx, tx, ActionDelete, p, now, endpointDetails(out))
	})
	if err != nil {
		return Endpoint{}, fmt.Errorf("delete webhook endpoint: %w", err)
	}
	return out, nil
}

// Endpoints lists the endpoints, oldest first. Codes: UNAUTHENTICATED, FORBIDDEN.
func (s *Service) Endpoints(ctx context.Context, p *auth.Principal, after *Cursor, limit int) ([]Endpoint, bool, error) {
	if err := checkAdmin(p); err != nil {
		return nil, false, err
	}
	return s.store.Endpoints(ctx, after, limit)
}

// Deliveries lists an endpoint's deliveries, newest first. Codes: UNAUTHENTICATED, FORBIDDEN.
func (s *Service) Deliveries(ctx context.Context, p *auth.Principal, endpointID uuid.UUID, after *Cursor, limit int) ([]Delivery, bool, error) {
	if err := checkAdmin(p); err != nil {
		return nil, false, err
	}
	return s.store.Deliveries(ctx, endpointID, after, limit)
}

// Replay sends a delivery's event to its endpoint again, as a new delivery due now with the
// same `webhook-id` (receivers that already processed it can drop it). Audited (ActionReplay).
// Codes: UNAUTHENTICATED, FORBIDDEN, NOT_FOUND.
func (s *Service) Replay(ctx context.Context, p *auth.Principal, deliveryID uuid.UUID) (Delivery, error) {
	if err := checkAdmin(p); err != nil {
		return Delivery{}, err
	}
	now := s.clock.Now()
	var out Delivery
	err := s.store.InTx(ctx, func(tx Store) (err error) {
		if out, err = tx.Replay(ctx, deliveryID, now); err != nil {
			return err
		}
		return record(ctx, tx, ActionReplay, p, now, map[string]any{"deliveryId": out.ID, "replayOf": deliveryID,
			"endpointId": out.EndpointID, "eventId": out.EventID, "event": out.EventType})
	})
	if err != nil {
		return Delivery{}, fmt.Errorf("replay webhook delivery: %w", err)
	}
	return out, nil
}
