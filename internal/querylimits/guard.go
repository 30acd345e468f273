package querylimits

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/recert/recert/internal/apperr"
)

// Guard is the gqlgen extension that stands between a request and any expensive work. Before
// the document is parsed for execution it resolves persisted queries (automatic persisted
// queries, or only trusted documents) and applies the schema-free Limits; after validation it
// prices the operation (Cost) against Limits.MaxCost. Every response then reports its cost in
// extensions.cost {requested, limit}, as the big public GraphQL APIs do.
//
// Codes: QUERY_TOO_COMPLEX, QUERY_TOO_DEEP, BAD_USER_INPUT (`first` outside 1..100, malformed
// persisted query data), PERSISTED_QUERY_NOT_FOUND, FORBIDDEN (a document that is not trusted,
// in trusted-documents mode).
type Guard struct {
	// Limits bounds documents; zero fields take DefaultLimits.
	Limits Limits
	// APQ caches automatic persisted queries by hash; nil turns APQ off. Ignored when Trusted is set.
	APQ graphql.Cache[string]
	// Trusted, when set, is the only documents accepted (trusted-documents mode).
	Trusted *TrustedDocuments
	// Parsed is gqlgen's cache of parsed documents: a document found there has passed the
	// limits before, so they are not checked again.
	Parsed graphql.Cache[*ast.QueryDocument]
	// OnReject, if set, is told why a document was refused (a Reason... constant).
	OnReject func(ctx context.Context, reason string)

	es graphql.ExecutableSchema
}

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
	graphql.OperationContextMutator
	graphql.ResponseInterceptor
} = &Guard{}

// CostStats is the priced cost of an operation, sent as extensions.cost.
type CostStats struct {
	Requested int `json:"requested"`
	Limit     int `json:"limit"`
}

const costExtension = "cost"

// ExtensionName names the extension for gqlgen.
func (g *Guard) ExtensionName() string { return "RecertGuard" }

// Validate keeps the schema for pricing.
func (g *Guard) Validate(es graphql.ExecutableSchema) error {
	g.es = es
	g.Limits = g.Limits.withDefaults()
	return nil
}

// MutateOperationParameters resolves a persisted query and applies the document limits.
func (g *Guard) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	hash, registering, err := g.persisted(ctx, p)
	if err != nil {
		return gqlError(err)
	}
	if p.Query != "" && !g.parsed(ctx, p.Query) {
		if le := CheckDocument(p.Query, g.Limits); le != nil {
			g.reject(ctx, le.Reason)
			return gqlError(le.Err)
		}
	}
	if registering {
		g.APQ.Add(ctx, hash, p.Query)
	}
	return nil
}

func (g *Guard) parsed(ctx context.Context, q string) bool {
	if g.Parsed == nil {
		return false
	}
	_, ok := g.Parsed.Get(ctx, q)
	return ok
}

func (g *Guard) reject(ctx context.Context, reason string) {
	if g.OnReject != nil {
		g.OnReject(ctx, reason)
	}
}

// persisted fills p.Query from the persisted-query extension and applies trusted-documents
// mode. registering reports an APQ registration (hash and query sent together) to store once
// the document has passed the limits.
func (g *Guard) persisted(ctx context.Context, p *graphql.RawParams) (hash string, registering bool, err *apperr.Error) {
	raw, sent := p.Extensions["persistedQuery"]
	if sent && raw != nil {
		if hash, err = persistedHash(raw); err != nil {
			return "", false, err
		}
		if p.Query != "" && queryHash(p.Query) != hash {
			return "", false, apperr.Invalid("provided APQ hash does not match query")
		}
	}
	switch {
	case g.Trusted != nil && hash != "":
		doc, ok := g.Trusted.byHash[hash]
		if !ok {
			g.reject(ctx, "untrusted")
			return "", false, persistedNotFound()
		}
		p.Query = doc
		return hash, false, nil
	case g.Trusted != nil:
		if _, ok := g.Trusted.byHash[queryHash(p.Query)]; !ok && p.Query != "" {
			g.reject(ctx, "untrusted")
			return "", false, apperr.Deny("this server accepts only trusted documents")
		}
		return "", false, nil
	case hash == "" || g.APQ == nil:
		return "", false, nil
	case p.Query == "":
		q, ok := g.APQ.Get(ctx, hash)
		if !ok {
			return "", false, persistedNotFound()
		}
		p.Query = q
		return hash, false, nil
	default:
		return hash, true, nil
	}
}

// persistedNotFound keeps the message Apollo clients look for besides the code.
func persistedNotFound() *apperr.Error {
	return apperr.E(apperr.PersistedQueryNotFound, "PersistedQueryNotFound")
}

// persistedHash reads {"version": 1, "sha256Hash": "<64 hex>"}. Codes: BAD_USER_INPUT.
func persistedHash(raw any) (string, *apperr.Error) {
	m, ok := raw.(map[string]any)
	if !ok {
		return "", apperr.Invalid("invalid persisted query data")
	}
	if v := fmt.Sprint(m["version"]); v != "1" {
		return "", apperr.Invalid("unsupported persisted query version")
	}
	h, _ := m["sha256Hash"].(string)
	if len(h) != sha256.Size*2 {
		return "", apperr.Invalid("invalid persisted query hash")
	}
	if _, err := hex.DecodeString(h); err != nil {
		return "", apperr.Invalid("invalid persisted query hash")
	}
	return strings.ToLower(h), nil
}

func queryHash(q string) string {
	sum := sha256.Sum256([]byte(q))
	return hex.EncodeToString(sum[:])
}

// MutateOperationContext prices the validated operation. Codes: QUERY_TOO_COMPLEX, BAD_USER_INPUT.
func (g *Guard) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	cost, le := CostWith(g.es.Schema(), oc.Operation, oc.Variables, g.Limits.ListBounds)
	if le != nil {
		g.reject(ctx, le.Reason)
		return gqlError(le.Err)
	}
	oc.Stats.SetExtension(costExtension, &CostStats{Requested: cost, Limit: g.Limits.MaxCost})
	if cost > g.Limits.MaxCost {
		g.reject(ctx, ReasonCost)
		return gqlError(apperr.E(apperr.QueryTooComplex,
			"the operation costs %d; the limit is %d", cost, g.Limits.MaxCost).
			With("cost", CostStats{Requested: cost, Limit: g.Limits.MaxCost}))
	}
	return nil
}

// InterceptResponse adds extensions.cost to the response of a priced operation.
func (g *Guard) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	if s := CostOf(ctx); s != nil {
		graphql.RegisterExtension(ctx, costExtension, *s)
	}
	return next(ctx)
}

// CostOf returns the priced cost of the current operation, or nil before pricing.
func CostOf(ctx context.Context) *CostStats {
	if !graphql.HasOperationContext(ctx) {
		return nil
	}
	s, _ := graphql.GetOperationContext(ctx).Stats.GetExtension(costExtension).(*CostStats)
	return s
}

// TrustedDocuments is the set of documents a production server may accept when it runs in
// trusted-documents mode, by the hex SHA-256 of their text.
type TrustedDocuments struct {
	byHash map[string]string
}

// Len returns the number of trusted documents.
func (t *TrustedDocuments) Len() int { return len(t.byHash) }

// LoadTrustedDocuments reads a manifest: either a JSON object from SHA-256 hash to document
// (graphql-codegen's client preset writes this form as persisted-documents.json, its keys
// prefixed "sha256:"), or an Apollo persisted query manifest ({"operations": [{"id", "body"},
// ...]}). Every hash, hex with or without the "sha256:" prefix, must be the SHA-256 of its
// document.
func LoadTrustedDocuments(path string) (*TrustedDocuments, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trusted documents: %w", err)
	}
	return ParseTrustedDocuments(b)
}

// sha256Prefix marks a document id as a SHA-256 hash (the prefixed document identifiers of the
// GraphQL over HTTP persisted documents proposal, as graphql-codegen writes them).
const sha256Prefix = "sha256:"

// ParseTrustedDocuments parses the manifest LoadTrustedDocuments reads.
func ParseTrustedDocuments(b []byte) (*TrustedDocuments, error) {
	var apollo struct {
		Operations []struct {
			ID   string `json:"id"`
			Body string `json:"body"`
		} `json:"operations"`
	}
	byHash := map[string]string{}
	if err := json.Unmarshal(b, &apollo); err == nil && apollo.Operations != nil {
		for _, op := range apollo.Operations {
			byHash[strings.ToLower(op.ID)] = op.Body
		}
	} else {
		byHash = map[string]string{}
		if err := json.Unmarshal(b, &byHash); err != nil {
			return nil, errors.New("trusted documents: want a JSON object of hash to document, or an Apollo persisted query manifest")
		}
	}
	out := &TrustedDocuments{byHash: map[string]string{}}
	for id, doc := range byHash {
		h := strings.TrimPrefix(strings.ToLower(id), sha256Prefix)
		if queryHash(doc) != h {
			return nil, fmt.Errorf("trusted documents: hash %s is not the SHA-256 of its document", id)
		}
		out.byHash[h] = doc
	}
	return out, nil
}
