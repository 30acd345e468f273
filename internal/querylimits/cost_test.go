package querylimits_test

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/recert/recert/internal/querylimits"
)

// Every field of the schema that returns a list of objects must have an explicit bound in
// querylimits.DefaultListBounds, so a new list cannot slip in priced at a guess; a Paged list must sit
// in a type that only fields with a `first` argument return; and no entry may name a field
// that is not such a list (a renamed field would leave a dead bound behind).
func TestEveryListHasABound(t *testing.T) {
	returnedBy := map[string][]*ast.FieldDefinition{} // type name -> fields returning it
	lists := map[string]bool{}
	for _, typ := range schema.Types {
		if strings.HasPrefix(typ.Name, "__") || (typ.Kind != ast.Object && typ.Kind != ast.Interface) {
			continue
		}
		for _, f := range typ.Fields {
			if strings.HasPrefix(f.Name, "__") {
				continue
			}
			returnedBy[f.Type.Name()] = append(returnedBy[f.Type.Name()], f)
			if f.Type.Elem == nil {
				continue
			}
			if elem := schema.Types[f.Type.Name()]; elem.Kind == ast.Scalar || elem.Kind == ast.Enum {
				continue // a list of leaves costs nothing, whatever its length
			}
			key := typ.Name + "." + f.Name
			lists[key] = true
			bound, ok := querylimits.DefaultListBounds[key]
			switch {
			case !ok:
				t.Errorf("%s returns a list of %s with no bound in querylimits.DefaultListBounds", key, f.Type.Name())
			case bound == 0 || bound < querylimits.Paged:
				t.Errorf("%s has bound %d, want a positive bound or Paged", key, bound)
			}
		}
	}
	for key, bound := range querylimits.DefaultListBounds {
		if !lists[key] {
			t.Errorf("querylimits.DefaultListBounds names %s, which is not a list of objects in the schema", key)
			continue
		}
		if bound != querylimits.Paged {
			continue
		}
		parent := key[:strings.Index(key, ".")]
		for _, f := range returnedBy[parent] {
			if f.Arguments.ForName("first") == nil {
				t.Errorf("%s is Paged, but %s returns %s without a `first` argument", key, f.Name, parent)
			}
		}
		if len(returnedBy[parent]) == 0 {
			t.Errorf("%s is Paged, but no field returns %s", key, parent)
		}
	}
}

func TestListsArePricedByTheirBounds(t *testing.T) {
	shares := `{ viewer { certificationProfiles { transcriptShares { code } } } }`
	paths := `query($c: String!) { transcript(shareCode: $c) { certifications { certification { requirementPaths { code } } } } }`
	tests := []struct {
		name   string
		query  string
		bounds querylimits.ListBounds
		want   int
	}{
		// viewer 1 + 5 profiles × (1 + 40 shares × 1): the default caps, shares listed up to twice the live cap
		{"default caps", shares, nil, 1 + 5*(1+40*1)},
		{"configured caps", shares, querylimits.BoundsFor(2, 3), 1 + 2*(1+6*1)},
		// transcript 1 + 100 certifications × (1 + certification 1 + 25 exams of 5 paths × 1)
		{"nested lists multiply their bounds", paths, nil, 1 + 100*(1+1+25)},
		// a connection's pageInfo is not per item; its nodes are, by `first`
		{"connections are priced by first", `{ viewer { certificationProfiles { certifications(first: 7) { pageInfo { hasNextPage } nodes { renewals { renewedAt } } } } } }`,
			nil, 1 + 5*(1+1+1+7*(1+querylimits.ListedRenewals*1))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := querylimits.CostWith(schema, operation(t, tc.query), map[string]any{"c": "x"}, tc.bounds)
			if err != nil || got != tc.want {
				t.Fatalf("got cost %d (%v), want %d", got, err, tc.want)
			}
		})
	}
}
