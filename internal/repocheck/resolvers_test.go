package repocheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// Issue 12, point 3: resolver bodies are written by hand in graph/<area>.go. gqlgen generates
// no resolver file (gqlgen.yml has no resolver section), and no method in graph/ only hands its
// own arguments to a private twin, the way the generated one-line stubs once did.
func TestResolversAreWrittenByHand(t *testing.T) {
	yml, err := os.ReadFile("gqlgen.yml")
	if err != nil {
		t.Fatal(err)
	}
	if regexp.MustCompile(`(?m)^resolver:`).Match(yml) {
		t.Error("gqlgen.yml has a resolver section: gqlgen would generate resolver stubs; resolvers live in graph/<area>.go")
	}
	generated, err := filepath.Glob("graph/*resolvers.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range generated {
		t.Errorf("%s exists: resolvers live in graph/<area>.go, not in a gqlgen resolver file", f)
	}

	files, err := filepath.Glob("graph/*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, f := range files {
		if f == "graph/generated.go" {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok {
				if twin, ok := forwardsToPrivateTwin(fd); ok {
					t.Errorf("%s: %s only calls %s with its own arguments: give %s the body and delete %s",
						fset.Position(fd.Pos()), fd.Name.Name, twin, fd.Name.Name, twin)
				}
			}
		}
	}
}

// forwardsToPrivateTwin reports whether fd is a method whose whole body is
// `return recv.twin(params...)`, twin unexported and every argument one of fd's parameters.
func forwardsToPrivateTwin(fd *ast.FuncDecl) (string, bool) {
	if fd.Recv == nil || fd.Body == nil || len(fd.Body.List) != 1 || len(fd.Recv.List[0].Names) == 0 {
		return "", false
	}
	ret, ok := fd.Body.List[0].(*ast.ReturnStmt)
	if !ok || len(ret.Results) != 1 {
		return "", false
	}
	call, ok := ret.Results[0].(*ast.CallExpr)
	if !ok {
		return "", false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || ast.IsExported(sel.Sel.Name) {
		return "", false
	}
	if x, ok := sel.X.(*ast.Ident); !ok || x.Name != fd.Recv.List[0].Names[0].Name {
		return "", false
	}
	params := map[string]bool{}
	for _, p := range fd.Type.Params.List {
		for _, n := range p.Names {
			params[n.Name] = true
		}
	}
	for _, a := range call.Args {
		if id, ok := a.(*ast.Ident); !ok || !params[id.Name] {
			return "", false
		}
	}
	return sel.Sel.Name, true
}
