package graph

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/recert/recert/graph/model"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/auth"
	"github.com/recert/recert/internal/webhook"
)

// webhookID parses the id of a webhook endpoint or delivery: they are not Nodes, so their ids
// are plain uuids. Codes: BAD_USER_INPUT.
func webhookID(s, field string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.Nil, apperr.Invalid("malformed id").With("field", field)
	}
	return id, nil
}

// webhookCursor decodes a (created_at, id) cursor of an endpoint or delivery list.
func webhookCursor(after *string) (*webhook.Cursor, error) {
	ok, at, id, err := keysetCursor(after, parseInstant)
	if err != nil || !ok {
		return nil, err
	}
	return &webhook.Cursor{At: at, ID: id}, nil
}

// CreateWebhookEndpoint is the resolver for the createWebhookEndpoint field.
func (r *mutationResolver) CreateWebhookEndpoint(ctx context.Context, in model.CreateWebhookEndpointInput) (*model.CreateWebhookEndpointPayload, error) {
	c, err := r.Webhooks.Create(ctx, auth.PrincipalFrom(ctx), in.URL, in.Events, in.Description, in.IdempotencyKey)
	if err != nil {
		return nil, err
	}
	return &model.CreateWebhookEndpointPayload{WebhookEndpoint: &c.Endpoint, Secret: c.Secret}, nil
}

// RotateWebhookSecret is the resolver for the rotateWebhookSecret field.
func (r *mutationResolver) RotateWebhookSecret(ctx context.Context, in model.RotateWebhookSecretInput) (*model.RotateWebhookSecretPayload, error) {
	id, err := webhookID(in.WebhookEndpointID, "webhookEndpointId")
	if err != nil {
		return nil, err
	}
	c, err := r.Webhooks.Rotate(ctx, auth.PrincipalFrom(ctx), id)
	if err != nil {
		return nil, err
	}
	return &model.RotateWebhookSecretPayload{WebhookEndpoint: &c.Endpoint, Secret: c.Secret}, nil
}

// DeleteWebhookEndpoint is the resolver for the deleteWebhookEndpoint field.
func (r *mutationResolver) DeleteWebhookEndpoint(ctx context.Context, in model.DeleteWebhookEndpointInput) (*model.DeleteWebhookEndpointPayload, error) {
	id, err := webhookID(in.WebhookEndpointID, "webhookEndpointId")
	if err != nil {
		return nil, err
	}
	e, err := r.Webhooks.Delete(ctx, auth.PrincipalFrom(ctx), id)
	if err != nil {
		return nil, err
	}
	return &model.DeleteWebhookEndpointPayload{WebhookEndpoint: &e}, nil
}

// ReplayWebhookDelivery is the resolver for the replayWebhookDelivery field.
func (r *mutationResolver) ReplayWebhookDelivery(ctx context.Context, in model.ReplayWebhookDeliveryInput) (*model.ReplayWebhookDeliveryPayload, error) {
	id, err := webhookID(in.DeliveryID, "deliveryId")
	if err != nil {
		return nil, err
	}
	d, err := r.Webhooks.Replay(ctx, auth.PrincipalFrom(ctx), id)
	if err != nil {
		return nil, err
	}
	return &model.ReplayWebhookDeliveryPayload{WebhookDelivery: &d}, nil
}

// WebhookEndpoints is Query.webhookEndpoints: oldest first, admins only.
func (r *queryResolver) WebhookEndpoints(ctx context.Context, first *int, after *string) (*model.WebhookEndpointConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	cur, err := webhookCursor(after)
	if err != nil {
		return nil, err
	}
	items, more, err := r.Webhooks.Endpoints(ctx, auth.PrincipalFrom(ctx), cur, n)
	if err != nil {
		return nil, err
	}
	conn := &model.WebhookEndpointConnection{}
	conn.Edges, conn.Nodes, conn.PageInfo = connection(items, more, after, self,
		func(e *webhook.Endpoint) string {
			return encodeCursor(e.CreatedAt.Format(time.RFC3339Nano), e.ID.String())
		},
		func(c string, e *webhook.Endpoint) *model.WebhookEndpointEdge {
			return &model.WebhookEndpointEdge{Cursor: c, Node: e}
		})
	return conn, nil
}

// Deliveries is WebhookEndpoint.deliveries: newest first, admins only.
func (r *webhookEndpointResolver) Deliveries(ctx context.Context, e *webhook.Endpoint, first *int, after *string) (*model.WebhookDeliveryConnection, error) {
	n, err := pageSize(first)
	if err != nil {
		return nil, err
	}
	cur, err := webhookCursor(after)
	if err != nil {
		return nil, err
	}
	items, more, err := r.Webhooks.Deliveries(ctx, auth.PrincipalFrom(ctx), e.ID, cur, n)
	if err != nil {
		return nil, err
	}
	conn := &model.WebhookDeliveryConnection{}
	conn.Edges, conn.Nodes, conn.PageInfo = connection(items, more, after, self,
		func(d *webhook.Delivery) string {
			return encodeCursor(d.CreatedAt.Format(time.RFC3339Nano), d.ID.String())
		},
		func(c string, d *webhook.Delivery) *model.WebhookDeliveryEdge {
			return &model.WebhookDeliveryEdge{Cursor: c, Node: d}
		})
	return conn, nil
}
