package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/recert/recert"

// goFiles parses every non-test Go file of the module (imports and string literals only
// matter here), keyed by path relative to the module root.
func goFiles(t *testing.T) map[string]*ast.File {
	t.Helper()
	files := map[string]*ast.File{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(path)] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 50 {
		t.Fatalf("got %d Go files, want the whole module (run from its root)", len(files))
	}
	return files
}

// The composition root (README "Architecture"): server.go builds everything and hands each package what
// it uses, so no package under internal/ imports the GraphQL layer (internal/httpserver takes
// the GraphQL handler as an http.Handler), and every command but serving lives in a package of
// its own: the only Go files at the root are server.go and this test.
func TestLayout(t *testing.T) {
	for path, f := range goFiles(t) {
		if !strings.HasPrefix(path, "internal/") {
			continue
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == module+"/graph" || strings.HasPrefix(p, module+"/graph/") || p == module+"/app" || strings.HasPrefix(p, module+"/app/") {
				t.Errorf("%s imports %s: packages under internal/ must not import the GraphQL layer or the wiring", path, p)
			}
		}
	}
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if name := e.Name(); !e.IsDir() && strings.HasSuffix(name, ".go") && name != "server.go" && name != "server_test.go" {
			t.Errorf("got %s at the module root, want only server.go and server_test.go (commands live in their own packages)", name)
		}
	}
}

// One audit trail: link and unlink, catalog changes, assessment publishing and merges all
// write through one statement (postgres.Store.InsertAudit).
func TestOneAuditInsert(t *testing.T) {
	insert := regexp.MustCompile(`(?i)\binsert\s+into\s+audit_events\b`)
	var found []string
	for path, f := range goFiles(t) {
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && insert.MatchString(lit.Value) {
				found = append(found, path)
			}
			return true
		})
	}
	if len(found) != 1 || found[0] != "internal/postgres/audit.go" {
		t.Fatalf("got INSERT INTO audit_events in %v, want exactly one, in internal/postgres/audit.go", found)
	}
}
