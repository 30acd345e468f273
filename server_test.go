package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
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

// recertBinary builds the program into a temporary directory.
func recertBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "recert")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// cliEnv is an environment in which reading the server configuration fails (production
// without DATABASE_URL) and the embedded PostgreSQL could not start: a command that reads
// it, or starts a database, fails or leaves files in dataDir.
func cliEnv(dataDir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "DATABASE_URL" || k == "APP_ENV" || k == "DATA_DIR" || k == "PG_BIN" || strings.HasPrefix(k, "RECERT_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "APP_ENV=production", "DATA_DIR="+dataDir, "PG_BIN="+filepath.Join(dataDir, "no-postgres"))
}

// runCLI runs the binary and returns its stdout and stderr; it fails the test unless the
// exit status is 0.
func runCLI(t *testing.T, bin string, env []string, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("recert %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), stderr.String()
}

// The command-line conventions (issue 14): help, -h and --help on the program and on every
// command print the usage to stdout and exit 0; version prints the module and the build's Go
// version; none of them reads the server configuration or starts a database.
func TestCommandLineHelpAndVersion(t *testing.T) {
	bin := recertBinary(t)
	dataDir := t.TempDir()
	env := cliEnv(dataDir)
	check := func(want string, args ...string) {
		t.Helper()
		stdout, stderr := runCLI(t, bin, env, args...)
		if !strings.Contains(stdout, want) {
			t.Errorf("recert %s: got stdout %q, want it to contain %q", strings.Join(args, " "), stdout, want)
		}
		if stderr != "" {
			t.Errorf("recert %s: got stderr %q, want nothing", strings.Join(args, " "), stderr)
		}
	}
	for _, h := range []string{"help", "-h", "--help"} {
		check("usage: recert [command]", h)
	}
	check("recert "+module+" ", "version")
	for _, cmd := range []string{"serve", "migrate", "token", "reminders", "seed-bench", "support"} {
		want := "usage: recert " + cmd
		check(want, cmd, "-h")
		check(want, cmd, "--help")
		check(want, "help", cmd)
	}
	check("usage: recert migrate", "migrate", "status", "--help")
	check("usage: recert reminders", "reminders", "run-once", "-h")
	for _, sub := range []string{"search", "preview", "merge", "audit"} {
		want := "usage: recert support " + sub
		check(want, "support", sub, "-h")
		check(want, "support", sub, "--help")
		check(want, "support", "help", sub)
	}
	if entries, err := os.ReadDir(dataDir); err != nil || len(entries) != 0 {
		t.Fatalf("got %d entries in DATA_DIR (%v), want none: a help command started something", len(entries), err)
	}
	// The same environment does fail a command that reads the configuration.
	cmd := exec.Command(bin, "token", "--sub", "x")
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "DATABASE_URL") {
		t.Fatalf("token in production without DATABASE_URL: got %v, %s; want the configuration error", err, out)
	}
}

// `go run . help` works as README documents it.
func TestGoRunHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"version"}, {"support", "--help"}} {
		cmd := exec.Command("go", append([]string{"run", "."}, args...)...)
		cmd.Env = cliEnv(t.TempDir())
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil || !strings.Contains(stdout.String(), "recert") {
			t.Fatalf("go run . %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
	}
}

// `support` reads no server configuration: it runs in production without DATABASE_URL, and
// --json prints the API's data.
func TestSupportNeedsNoServerConfiguration(t *testing.T) {
	bin := recertBinary(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/graphql-response+json")
		_, _ = io.WriteString(w, `{"data":{"searchCertificationProfiles":{"totalCount":1,"nodes":[{"id":"Q1","mcid":"990000001",
"legalName":"Mia Wong","email":"mia@example.com","alternateEmails":[],"status":"ACTIVE","mergedInto":null}],
"pageInfo":{"hasNextPage":false,"endCursor":null}}}}`)
	}))
	defer srv.Close()
	stdout, _ := runCLI(t, bin, cliEnv(t.TempDir()), "support", "search", "mia", "--url", srv.URL, "--token", "t", "--json")
	var got struct {
		TotalCount int
		Nodes      []struct{ MCID string }
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || got.TotalCount != 1 || len(got.Nodes) != 1 || got.Nodes[0].MCID != "990000001" {
		t.Fatalf("got %v decoding %q, want the one profile as JSON", err, stdout)
	}
}

// The benchmark's load generator is no requirement of the server (issue 14): bench/ is a module
// of its own, joined to this one by go.work so that `go run ./bench` works from here.
func TestBenchIsItsOwnModule(t *testing.T) {
	gomod, err := os.ReadFile("go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(gomod), "vegeta") {
		t.Fatalf("go.mod requires the load generator:\n%s", gomod)
	}
	benchMod, err := os.ReadFile("bench/go.mod")
	if err != nil || !strings.Contains(string(benchMod), "module "+module+"/bench") || !strings.Contains(string(benchMod), "vegeta") {
		t.Fatalf("bench/go.mod: got %v\n%s\nwant the module %s/bench requiring vegeta", err, benchMod, module)
	}
	work, err := os.ReadFile("go.work")
	if err != nil || !regexp.MustCompile(`(?m)^\s*\./bench\s*$`).Match(work) {
		t.Fatalf("go.work: got %v\n%s\nwant it to use ./bench", err, work)
	}
}
