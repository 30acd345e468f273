package querylimits_test

import (
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/recert/recert/internal/apperr"
	"github.com/recert/recert/internal/querylimits"
)

// Every String and ID argument and input field of schema.graphqls has its own entry in
// InputMaxLengths (none lives on DefaultMaxInputLength), every custom scalar has one in
// ScalarMaxLengths, and no entry names something the schema does not have.
func TestEveryStringArgumentAndInputFieldHasAMaximumLength(t *testing.T) {
	seen := map[string]bool{}
	need := func(coord string, typ *ast.Type) {
		for typ.Elem != nil {
			typ = typ.Elem
		}
		def := schema.Types[typ.NamedType]
		switch {
		case typ.NamedType == "String" || typ.NamedType == "ID":
			seen[coord] = true
			if n, ok := querylimits.InputMaxLengths[coord]; !ok || n <= 0 {
				t.Errorf("%s (%s) has no maximum length in querylimits.InputMaxLengths", coord, typ.NamedType)
			}
		case def != nil && def.Kind == ast.Scalar && !def.BuiltIn:
			if _, ok := querylimits.ScalarMaxLengths[def.Name]; !ok {
				t.Errorf("%s: custom scalar %s has no maximum length in querylimits.ScalarMaxLengths", coord, def.Name)
			}
		}
	}
	for _, d := range schema.Types {
		if d.BuiltIn || strings.HasPrefix(d.Name, "__") {
			continue
		}
		switch d.Kind {
		case ast.Object, ast.Interface:
			for _, f := range d.Fields {
				if strings.HasPrefix(f.Name, "__") {
					continue
				}
				for _, a := range f.Arguments {
					need(d.Name+"."+f.Name+"("+a.Name+":)", a.Type)
				}
			}
		case ast.InputObject:
			for _, f := range d.Fields {
				need(d.Name+"."+f.Name, f.Type)
			}
		}
	}
	if len(seen) < 40 {
		t.Fatalf("found only %d String and ID arguments and input fields; is the walk broken?", len(seen))
	}
	for coord := range querylimits.InputMaxLengths {
		if !seen[coord] {
			t.Errorf("querylimits.InputMaxLengths names %s, which is not a String or ID argument or input field", coord)
		}
	}
}

func TestCheckInputs(t *testing.T) {
	cases := []struct {
		name, query string
		vars        map[string]any
		want        string // "" for no error, else the argument path
	}{
		{"at the cap", `{ certification(code: "` + strings.Repeat("é", 100) + `") { code } }`, nil, ""},
		{"over the cap", `{ certification(code: "` + strings.Repeat("é", 101) + `") { code } }`, nil, "certification.code"},
		// No transport of this server delivers invalid UTF-8 (JSON decoding replaces it), but a
		// document that holds some is refused all the same.
		{"invalid UTF-8 in a literal", "{ certification(code: \"AZ\xff900\") { code } }", nil, "certification.code"},
		{"surrogate encoded in UTF-8", "{ transcript(shareCode: \"a\xed\xa0\x80\") { mcid } }", nil, "transcript.shareCode"},
		{"NUL from a variable", `query($c: String!) { c: certification(code: $c) { code } }`,
			map[string]any{"c": "a\x00"}, "c.code"},
		{"introspection falls back to the default", `{ __type(name: "` + strings.Repeat("T", querylimits.DefaultMaxInputLength+1) + `") { name } }`,
			nil, "__type.name"},
		{"a list element", `mutation($l: [String!]!) { upsertExam(input: {code: "E", title: "T", languages: $l}) { exam { code } } }`,
			map[string]any{"l": []any{"en", strings.Repeat("x", querylimits.MaxLanguageLength+1)}}, "upsertExam.input.languages[1]"},
		{"a fragment spread twice is checked once, and still checked",
			`{ ...F a: viewer { account { id } } ...F } fragment F on Query { transcript(shareCode: "a\u0000") { mcid } }`,
			nil, "transcript.shareCode"},
	}
	for _, c := range cases {
		err := querylimits.CheckInputs(schema, operation(t, c.query), c.vars)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: got %v, want no error", c.name, err)
		case c.want != "" && (err == nil || err.Code != apperr.BadUserInput || err.Extensions["argument"] != c.want):
			t.Errorf("%s: got %v, want BAD_USER_INPUT on %s", c.name, err, c.want)
		}
	}
}
