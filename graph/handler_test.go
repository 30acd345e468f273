package graph_test

import (
	"context"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/recert/recert/graph"
)

// spy is an extension that intercepts fields.
type spy struct{}

func (spy) ExtensionName() string                   { return "Spy" }
func (spy) Validate(graphql.ExecutableSchema) error { return nil }
func (spy) InterceptField(ctx context.Context, next graphql.Resolver) (any, error) {
	return next(ctx)
}

// The handler sets each operation's field middleware itself (public transcript guard, internal
// errors), which would silently skip a field interceptor added with the extensions: it refuses
// one instead.
func TestHandlerRefusesFieldInterceptors(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "Spy") {
			t.Fatalf("recovered %v, want a panic naming the extension", r)
		}
	}()
	graph.NewHandler(graph.HandlerConfig{Resolver: &graph.Resolver{}, Transport: transport.POST{},
		Extensions: []graphql.HandlerExtension{spy{}}})
}
