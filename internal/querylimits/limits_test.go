package querylimits_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/recert/recert/graph"
	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/querylimits"
	"github.com/recert/recert/internal/team"
)

var schema = graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{}}).Schema()

// operation parses and validates q against the real schema.
func operation(t *testing.T, q string) *ast.OperationDefinition {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: q})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	if errs := validator.Validate(schema, doc); len(errs) > 0 {
		t.Fatalf("validate: %v", errs)
	}
	return doc.Operations[0]
}

func TestCostModel(t *testing.T) {
	tests := []struct {
		name  string
		query string
		vars  map[string]any
		want  int
	}{
		{"scalars cost nothing", `{ __typename certification(code: "x") { code name } }`, nil, 1},
		{"each object field adds its own cost", `{ certification(code: "x") { renewalAssessment { certification { code } } } }`, nil, 3},
		// certifications 1 + pageInfo 1 + nodes 20 × (1 + prerequisites 10 × 1)
		{"first absent pages 20, other lists count their bound", `{ certifications { pageInfo { hasNextPage } nodes { prerequisites { code } } } }`, nil, 2 + 20*(1+10)},
		{"first multiplies edges and nodes, not pageInfo or totalCount", `{ certifications(first: 50) { totalCount pageInfo { endCursor } edges { node { code } } } }`, nil, 1 + 1 + 50*(1+1)},
		{"first from a variable", `query($n: Int) { certifications(first: $n) { nodes { code } } }`, map[string]any{"n": int64(7)}, 1 + 7},
		{"null first is the default page", `query($n: Int) { certifications(first: $n) { nodes { code } } }`, map[string]any{"n": nil}, 1 + 20},
		{"fragments are priced in their context", `{ a: certifications(first: 2) { ...C } b: certifications(first: 3) { ...C } } fragment C on CertificationConnection { nodes { renewalAssessment { version } } }`, nil, (1 + 2*2) + (1 + 3*2)},
		{"mutations cost 10", `mutation { createCertificationProfile(input: {legalName: "A", email: "a@b.c"}) { certificationProfile { mcid } } }`, nil, 11},
		{"support operations cost more", `{ searchCertificationProfiles(query: "x", first: 10) { nodes { mcid } } }`, nil, 10 + 10},
		// team 1 + members 10 + 100 members × (edges 1 + node 1 + 50 certifications × 1)
		{"a full team page is priced by the certifications a member lists", `{ team { members(first: 100) { edges { node { legalName certifications { code } } } } } }`, nil, 11 + 100*(2+team.ListedCertifications)},
		{"introspection costs one", `{ __schema { types { fields { name type { ofType { name } } } } } }`, nil, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := querylimits.Cost(schema, operation(t, tc.query), tc.vars)
			if err != nil {
				t.Fatalf("Cost: %v", err)
			}
			if got != tc.want {
				t.Fatalf("got cost %d, want %d", got, tc.want)
			}
		})
	}
}

func TestCostRefusesFirstOutsideThePage(t *testing.T) {
	q := `query($n: Int) { certifications(first: $n) { nodes { code } } }`
	for _, n := range []any{int64(0), int64(101), int64(-1), int64(math.MaxInt64), float64(1e300), "12", 2.5} {
		_, err := querylimits.Cost(schema, operation(t, q), map[string]any{"n": n})
		if err == nil || err.Err.Code != apperr.BadUserInput {
			t.Errorf("first=%v: got %v, want BAD_USER_INPUT", n, err)
		}
	}
}

// The exact cost of 40 nested lists overflows any integer type: it must saturate, never wrap
// around below the limit.
func TestCostSaturatesInsteadOfOverflowing(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{ certifications(first: 100) { nodes { ...C0 } } }`)
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "fragment C%d on Certification { prerequisites { ...C%d } }\n", i, i+1)
	}
	b.WriteString("fragment C40 on Certification { code }")
	got, err := querylimits.Cost(schema, operation(t, b.String()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got != math.MaxInt32 {
		t.Fatalf("got cost %d, want saturation at %d", got, math.MaxInt32)
	}
}

// A chain of fragments each spreading the next twice is priced in linear time (memoized), not
// in 2^n steps.
func TestCostOfFragmentFanOutIsLinear(t *testing.T) {
	var b strings.Builder
	b.WriteString("{ ...F0 }\n")
	const n = 60
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "fragment F%d on Query { ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { certification(code: \"x\") { code } }\n", n)
	op := operation(t, b.String())
	// The fastest of up to 20 pricings must be under 50ms: memoized pricing takes
	// microseconds, so one quick run is enough however busy the machine; 2^60 steps would not
	// end at all, hence the overall bound (a failure, not a measure).
	type priced struct {
		cost    int
		err     error
		fastest time.Duration
	}
	done := make(chan priced, 1)
	go func() {
		r := priced{fastest: time.Hour}
		for i := 0; i < 20 && r.fastest > 50*time.Millisecond; i++ {
			start := time.Now()
			cost, err := querylimits.Cost(schema, op, nil)
			r.fastest = min(r.fastest, time.Since(start))
			if r.cost = cost; err != nil {
				r.err = err
				break
			}
		}
		done <- r
	}()
	var r priced
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("pricing did not end within a minute: it is not linear")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.fastest > 50*time.Millisecond {
		t.Errorf("pricing took at least %v, want well under 50ms", r.fastest)
	}
	if r.cost != math.MaxInt32 {
		t.Errorf("got cost %d, want %d (2^60 saturated)", r.cost, math.MaxInt32)
	}
}

func TestCheckDocument(t *testing.T) {
	l := querylimits.Limits{MaxBytes: 2000, MaxTokens: 200, MaxDepth: 4, MaxAliases: 2, MaxDirectives: 2, MaxFragments: 2, MaxSpreads: 3}
	tests := []struct {
		name   string
		query  string
		code   apperr.Code
		reason string
	}{
		{"within every limit", `query Q($x: Boolean!) { a: certification(code: "x") @include(if: $x) { code } ...F } fragment F on Query { __typename }`, "", ""},
		{"size", "{ __typename }" + strings.Repeat(" ", 2000), apperr.QueryTooComplex, querylimits.ReasonSize},
		{"tokens, comments included", "{ __typename }" + strings.Repeat("\n#c", 200), apperr.QueryTooComplex, querylimits.ReasonTokens},
		{"depth 5", `{ a { b { c { d { e } } } } }`, apperr.QueryTooDeep, querylimits.ReasonDepth},
		{"depth through a fragment", `{ a { ...F } } fragment F on T { b { c { d { e } } } }`, apperr.QueryTooDeep, querylimits.ReasonDepth},
		{"depth 4 is allowed", `{ a { b { c { d } } } }`, "", ""},
		{"aliases", `{ a: x b: x c: x }`, apperr.QueryTooComplex, querylimits.ReasonAliases},
		{"an alias equal to the name is no alias", `{ x: x y: y x: x }`, "", ""},
		{"directives on fields, fragments, spreads, operations", `query @d { x @d ...F @d } fragment F on Q @d { y }`, apperr.QueryTooComplex, querylimits.ReasonDirectives},
		{"fragments", `{ ...A } fragment A on Q { x } fragment B on Q { x } fragment C on Q { x }`, apperr.QueryTooComplex, querylimits.ReasonFragments},
		{"spreads", `{ ...A ...A ...A ...A } fragment A on Q { x }`, apperr.QueryTooComplex, querylimits.ReasonSpreads},
		{"a fragment cycle does not loop", `{ ...A } fragment A on Q { x { ...B } } fragment B on Q { ...A }`, "", ""},
		{"a document that does not parse is left to the parser", `{ a `, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := querylimits.CheckDocument(tc.query, l)
			if tc.code == "" {
				if err != nil {
					t.Fatalf("got %v, want none", err)
				}
				return
			}
			if err == nil || err.Err.Code != tc.code || err.Reason != tc.reason {
				t.Fatalf("got %v, want %s (%s)", err, tc.code, tc.reason)
			}
		})
	}
}

// introspectionQuery is the query GraphiQL sends (graphql-js getIntrospectionQuery).
const introspectionQuery = `query IntrospectionQuery {
  __schema { queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue } interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }`

func TestDefaultLimitsAcceptGraphiQLIntrospection(t *testing.T) {
	if err := querylimits.CheckDocument(introspectionQuery, querylimits.DefaultLimits); err != nil {
		t.Fatalf("got %v, want the introspection query accepted", err)
	}
	got, err := querylimits.Cost(schema, operation(t, introspectionQuery), nil)
	if err != nil || got > querylimits.DefaultLimits.MaxCost {
		t.Fatalf("got cost %d (%v), want within %d", got, err, querylimits.DefaultLimits.MaxCost)
	}
}
