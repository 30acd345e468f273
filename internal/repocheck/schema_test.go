package repocheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2"
	gqlast "github.com/vektah/gqlparser/v2/ast"
)

// loadSchema parses the schema file as gqlgen does (with the GraphQL prelude).
func loadSchema(t *testing.T, name, text string) *gqlast.Schema {
	t.Helper()
	s, err := gqlparser.LoadSchema(&gqlast.Source{Name: name, Input: text})
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return s
}

func readSchema(t *testing.T) *gqlast.Schema {
	t.Helper()
	b, err := os.ReadFile("schema.graphqls")
	if err != nil {
		t.Fatal(err)
	}
	return loadSchema(t, "schema.graphqls", string(b))
}

// undocumented lists every type, field, argument, input field and enum value the schema
// itself defines (not the prelude's) that has no description.
func undocumented(s *gqlast.Schema) []string {
	var out []string
	own := func(p *gqlast.Position) bool { return p == nil || p.Src == nil || !p.Src.BuiltIn }
	blank := func(d string) bool { return strings.TrimSpace(d) == "" }
	for name, def := range s.Types {
		if !own(def.Position) {
			continue
		}
		if blank(def.Description) {
			out = append(out, "type "+name)
		}
		for _, f := range def.Fields {
			if !own(f.Position) || strings.HasPrefix(f.Name, "__") {
				continue // introspection: __schema, __type
			}
			if blank(f.Description) {
				out = append(out, name+"."+f.Name)
			}
			for _, a := range f.Arguments {
				if blank(a.Description) {
					out = append(out, name+"."+f.Name+"("+a.Name+")")
				}
			}
		}
		for _, v := range def.EnumValues {
			if blank(v.Description) {
				out = append(out, name+"."+v.Name)
			}
		}
	}
	for name, d := range s.Directives {
		if own(d.Position) && blank(d.Description) {
			out = append(out, "directive @"+name)
		}
	}
	sort.Strings(out)
	return out
}

// Issue 14, point 1: the schema is the documentation. Every type, field, argument, input
// field and enum value carries a description.
func TestSchemaIsDocumented(t *testing.T) {
	if missing := undocumented(readSchema(t)); len(missing) > 0 {
		t.Errorf("%d schema elements have no description:\n  %s", len(missing), strings.Join(missing, "\n  "))
	}
	// The check itself sees each kind of element.
	probe := loadSchema(t, "probe.graphqls", `
"d" type Query { "d" a(x: Int): Int  b("d" y: Int): E  c(z: I): Int }
enum E { "d" ONE TWO }
"d" input I { "d" p: Int q: Int }
type T { "d" f: Int }`)
	want := []string{"Query.a(x)", "Query.b", "Query.c", "Query.c(z)", "E.TWO", "I.q", "type E", "type T"}
	slices.Sort(want)
	if got := undocumented(probe); !slices.Equal(got, want) {
		t.Errorf("undocumented(probe) = %v, want %v", got, want)
	}
}

// The scalars point at their specifications (@specifiedBy, shown as specifiedByURL).
func TestScalarsAreSpecified(t *testing.T) {
	s := readSchema(t)
	for _, name := range []string{"Date", "DateTime"} {
		d := s.Types[name].Directives.ForName("specifiedBy")
		if d == nil || !strings.HasPrefix(d.Arguments.ForName("url").Value.Raw, "https://www.rfc-editor.org/rfc/rfc3339") {
			t.Errorf("scalar %s has no @specifiedBy(url:) pointing at RFC 3339", name)
		}
	}
}

// apperrCodes reads the Code constants of internal/apperr with go/ast: name → value.
func apperrCodes(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("internal/apperr/*.go")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Code" {
					continue
				}
				for i, n := range vs.Names {
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if !ok || lit.Kind != token.STRING {
						t.Fatalf("apperr.%s is not a string literal", n.Name)
					}
					out[n.Name], _ = strconv.Unquote(lit.Value)
				}
			}
		}
	}
	return out
}

var (
	codeShape = regexp.MustCompile(`^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$|^[A-Z]{4,}$`)
	codeInRaw = regexp.MustCompile(`\\?"code\\?"\s*:\s*\\?"([A-Z_]+)\\?"`)
)

// literalCodes finds error codes written as literals rather than apperr constants in one Go
// file: `"code": "X"` map entries, `Code: "X"` fields, `apperr.Code("X")` / `Code("X")`
// conversions, and `"code":"X"` inside string literals (hand-written JSON responses).
func literalCodes(fset *token.FileSet, name string, src any) ([]string, error) {
	file, err := parser.ParseFile(fset, name, src, 0)
	if err != nil {
		return nil, err
	}
	var out []string
	str := func(e ast.Expr) (string, bool) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(lit.Value)
		return s, err == nil
	}
	ast.Inspect(file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.KeyValueExpr:
			v, ok := str(n.Value)
			if !ok || !codeShape.MatchString(v) {
				break
			}
			if k, ok := str(n.Key); ok && k == "code" {
				out = append(out, v)
			} else if id, ok := n.Key.(*ast.Ident); ok && id.Name == "Code" {
				out = append(out, v)
			}
		case *ast.CallExpr:
			fun := n.Fun
			if sel, ok := fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Code" {
				fun = sel.Sel
			}
			if id, ok := fun.(*ast.Ident); ok && id.Name == "Code" && len(n.Args) == 1 {
				if v, ok := str(n.Args[0]); ok {
					out = append(out, v)
				}
			}
		case *ast.BasicLit:
			if n.Kind == token.STRING {
				for _, m := range codeInRaw.FindAllStringSubmatch(n.Value, -1) {
					out = append(out, m[1])
				}
			}
		}
		return true
	})
	return out, nil
}

// serverSources lists the non-test Go files of the server (bench/ is a separate load-test
// tool with its own fake server, ops/ holds clients such as the failover drill; generated code holds no error codes of its own).
func serverSources(t *testing.T) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != "." && (strings.HasPrefix(d.Name(), ".") || path == "bench" || path == "ops" || path == "graph/model") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") && path != "graph/generated.go" {
			out = append(out, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Issue 14, point 1: the ErrorCode enum lists exactly the codes the server can return. Every
// code goes out as an apperr.Code (graph's error presenter maps gqlgen's own codes to apperr
// codes and everything else to BAD_USER_INPUT or INTERNAL; the HTTP layer writes apperr
// values), so the set is the Code constants of internal/apperr plus any code written as a
// literal anywhere in the server, which must be one of those constants too.
func TestErrorCodeEnumIsEveryCodeTheServerReturns(t *testing.T) {
	consts := apperrCodes(t)
	server := map[string]bool{}
	for _, v := range consts {
		server[v] = true
	}
	fset := token.NewFileSet()
	files := serverSources(t)
	if len(files) < 50 {
		t.Fatalf("found %d server sources, want the whole repository", len(files))
	}
	for _, f := range files {
		codes, err := literalCodes(fset, f, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range codes {
			if !server[c] {
				t.Errorf("%s writes error code %q, which is not an apperr.Code constant", f, c)
			}
		}
	}

	enum := map[string]bool{}
	for _, v := range readSchema(t).Types["ErrorCode"].EnumValues {
		enum[v.Name] = true
	}
	for c := range server {
		if !enum[c] {
			t.Errorf("the server returns %s, which enum ErrorCode does not list", c)
		}
	}
	for c := range enum {
		if !server[c] {
			t.Errorf("enum ErrorCode lists %s, which the server never returns", c)
		}
	}

	// The literal scanner sees each form a code can be written in.
	probe := `package p
var a = map[string]any{"code": "ONE_A"}
var b = Error{Code: "TWO_B"}
var c = apperr.Code("THREE_C")
var d = []byte(` + "`" + `{"errors":[{"extensions":{"code":"FOUR_D"}}]}` + "`" + `)
var e = "{\"code\":\"FIVE_E\"}"
var f = map[string]any{"name": "NOT_A_CODE", "code": "lower"}`
	got, err := literalCodes(fset, "probe.go", probe)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ONE_A", "TWO_B", "THREE_C", "FOUR_D", "FIVE_E"}; !slices.Equal(got, want) {
		t.Errorf("literalCodes(probe) = %v, want %v", got, want)
	}
}

// Each mutation's description names the codes it can return, after "Errors:", and each one
// named is an ErrorCode value.
func TestMutationsNameTheirErrorCodes(t *testing.T) {
	s := readSchema(t)
	enum := map[string]bool{}
	for _, v := range s.Types["ErrorCode"].EnumValues {
		enum[v.Name] = true
	}
	backticked := regexp.MustCompile("`([A-Z][A-Z_]+)`")
	for _, f := range s.Mutation.Fields {
		_, errs, ok := strings.Cut(f.Description, "Errors:")
		if !ok {
			t.Errorf("mutation %s: its description names no codes (\"Errors: ...\")", f.Name)
			continue
		}
		named := backticked.FindAllStringSubmatch(errs, -1)
		if len(named) == 0 {
			t.Errorf("mutation %s: no code after \"Errors:\"", f.Name)
		}
		for _, m := range named {
			if !enum[m[1]] {
				t.Errorf("mutation %s names %s, which is not an ErrorCode", f.Name, m[1])
			}
		}
	}
}
