package repocheck

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// Issue 15: every mutation may be retried after UNAVAILABLE, so the API guide's table in
// "Retrying after UNAVAILABLE" says, for every Mutation field, how a repeat behaves.
func TestEveryMutationSaysHowARepeatBehaves(t *testing.T) {
	b, err := os.ReadFile("docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "### Retrying after UNAVAILABLE\n")
	if !ok {
		t.Fatal(`docs/api.md has no section "Retrying after UNAVAILABLE"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	named := regexp.MustCompile("`([a-zA-Z]+)`")
	listed := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(line, "|") {
			continue
		}
		for _, m := range named.FindAllStringSubmatch(cells[1], -1) {
			listed[m[1]] = true
		}
	}
	for _, f := range readSchema(t).Mutation.Fields {
		if !listed[f.Name] {
			t.Errorf("mutation %s is missing from the table of docs/api.md \"Retrying after UNAVAILABLE\"", f.Name)
		}
	}
}
