package repocheck

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// trackedFiles lists the repository's files as git tracks them; outside a git checkout it
// walks the tree (skipping dot directories other than .ci).
func trackedFiles(t *testing.T) []string {
	t.Helper()
	if out, err := exec.Command("git", "ls-files", "-z").Output(); err == nil {
		var files []string
		for _, f := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
			if _, err := os.Stat(f); err == nil { // deleted but not yet committed
				files = append(files, f)
			}
		}
		return files
	}
	var files []string
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != "." && strings.HasPrefix(d.Name(), ".") && d.Name() != ".ci" {
			return filepath.SkipDir
		}
		if !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var (
	// outsideRefs: paths to the workspace beside the repository, and the bare names of the
	// specification files that lived there (API, DOMAIN and STYLE .md): none is in the repository.
	outsideRefs = []*regexp.Regexp{
		regexp.MustCompile(`\.\.` + `/shared/`),
		regexp.MustCompile(`(^|[^\w/.-])(API|DOMAIN|STYLE)\.` + `md\b`),
	}
	// docRef: a reference to a page of docs/, optionally naming a section in quotes.
	docRef = regexp.MustCompile(`docs/([\w-]+\.md)(?: "([^"\n]+)")?`)
	// heading: a Markdown heading of a docs page.
	heading = regexp.MustCompile(`(?m)^#+ +(.+)$`)
)

// Issue 14, point 2: every reference in code, comments, migrations and README points inside
// the repository: nothing names the workspace's ../shared/ files or a bare API/DOMAIN/STYLE
// page, and every docs/<page>.md named exists, with the section it quotes as one of its
// headings (a prefix is enough: "Connecting" finds "Connecting the profiles").
func TestReferencesPointInsideTheRepository(t *testing.T) {
	files := trackedFiles(t)
	if len(files) < 50 {
		t.Fatalf("found %d files, want the whole repository", len(files))
	}
	headings := map[string][]string{}
	for _, f := range files {
		if filepath.Dir(f) != "docs" || !strings.HasSuffix(f, ".md") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range heading.FindAllStringSubmatch(string(b), -1) {
			headings[filepath.Base(f)] = append(headings[filepath.Base(f)], m[1])
		}
	}
	for _, want := range []string{"domain.md", "api.md", "operations.md"} {
		if len(headings[want]) == 0 {
			t.Errorf("docs/%s is missing or has no headings", want)
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.IndexByte(b, 0) >= 0 || f == "internal/repocheck/docs_test.go" {
			continue // binary, or this test's own patterns
		}
		for i, line := range strings.Split(string(b), "\n") {
			for _, re := range outsideRefs {
				if re.MatchString(line) {
					t.Errorf("%s:%d points outside the repository: %s", f, i+1, strings.TrimSpace(line))
				}
			}
			for _, m := range docRef.FindAllStringSubmatch(line, -1) {
				hs, ok := headings[m[1]]
				if !ok {
					t.Errorf("%s:%d names docs/%s, which does not exist", f, i+1, m[1])
					continue
				}
				if m[2] != "" && !hasPrefixIn(hs, m[2]) {
					t.Errorf("%s:%d names section %q of docs/%s, which has no such heading", f, i+1, m[2], m[1])
				}
			}
		}
	}
}

func hasPrefixIn(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}
