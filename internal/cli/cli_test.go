package cli

import (
	"bytes"
	"errors"
	"flag"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionPrintsTheRevision(t *testing.T) {
	var out bytes.Buffer
	version(&out, &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Path: "github.com/recert/recert", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"}}})
	want := "recert github.com/recert/recert v1.2.3\nrevision abc123 2026-01-02T03:04:05Z (modified)\nbuilt with go1.99\n"
	if out.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", out.String(), want)
	}
	out.Reset()
	version(&out, &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Path: "github.com/recert/recert"}})
	if !strings.Contains(out.String(), "(devel)") || !strings.Contains(out.String(), "revision unknown") {
		t.Fatalf("got %q, want (devel) and revision unknown", out.String())
	}
}

func TestHelpGoesToStdoutAndErrorsToStderr(t *testing.T) {
	for _, args := range [][]string{{"-h"}, {"--help"}, {"-help"}, {"up", "--help"}, {"help"}} {
		fs := FlagSet("migrate", "[up|status]", "Applies migrations.")
		fs.Bool("dry", false, "a flag")
		var stdout, stderr bytes.Buffer
		_, err := ParseCommand(fs, args, 1, &stdout, &stderr)
		if !Helped(err) || !strings.Contains(stdout.String(), "usage: recert migrate [up|status]") ||
			!strings.Contains(stdout.String(), "-dry") || stderr.Len() != 0 {
			t.Fatalf("%q: got %v, stdout %q, stderr %q; want ErrHelp and the usage on stdout only", args, err, stdout.String(), stderr.String())
		}
	}
	fs := FlagSet("migrate", "[up|status]", "Applies migrations.")
	var stdout, stderr bytes.Buffer
	if _, err := ParseCommand(fs, []string{"--nope"}, 1, &stdout, &stderr); err == nil || errors.Is(err, flag.ErrHelp) ||
		stdout.Len() != 0 || !strings.Contains(stderr.String(), "usage:") {
		t.Fatalf("got %v, stdout %q, stderr %q; want an error and the usage on stderr", err, stdout.String(), stderr.String())
	}
	if _, err := ParseCommand(fs, []string{"up", "down"}, 1, &stdout, &stderr); err == nil || !strings.Contains(err.Error(), "unexpected") {
		t.Fatalf("got %v, want an error about the extra argument", err)
	}
}
