package pgserver

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// ErrNotFound reports that no directory holding the PostgreSQL server binaries (initdb and
// postgres) was found. Start wraps it with the list of places it looked.
var ErrNotFound = errors.New("pgserver: PostgreSQL server binaries (initdb, postgres) not found")

// finder locates the PostgreSQL binaries. It is a value, not globals, so a test can take the
// machine's own installation out of the picture.
type finder struct {
	getenv func(string) string
	// pgConfigBindir runs `pg_config --bindir` if pg_config is on PATH.
	pgConfigBindir func() (string, error)
	// globs are searched in order; within one glob the highest version wins.
	globs []string
}

var defaultFinder = finder{
	getenv: os.Getenv,
	pgConfigBindir: func() (string, error) {
		path, err := exec.LookPath("pg_config")
		if err != nil {
			return "", err
		}
		out, err := exec.Command(path, "--bindir").Output()
		if err != nil {
			return "", fmt.Errorf("%s --bindir: %w", path, err)
		}
		return strings.TrimSpace(string(out)), nil
	},
	globs: []string{
		"/usr/lib/postgresql/*/bin",         // Debian, Ubuntu
		"/usr/local/pgsql/bin",              // built from source
		"/opt/homebrew/opt/postgresql*/bin", // Homebrew on Apple silicon
		"/usr/local/opt/postgresql*/bin",    // Homebrew on Intel
	},
}

// find returns the first usable binary directory: binDir, $PG_BIN, `pg_config --bindir`, then
// the well-known install locations. An unusable binDir or $PG_BIN is skipped, not fatal, and
// shows up in the error if nothing else is found.
func (f finder) find(binDir string) (string, error) {
	var tried []string
	check := func(source, dir string) bool {
		err := usableBinDir(dir)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s %s: %v", source, dir, err))
		}
		return err == nil
	}
	if binDir != "" && check("Options.BinDir", binDir) {
		return binDir, nil
	}
	if dir := f.getenv("PG_BIN"); dir != "" && check("PG_BIN", dir) {
		return dir, nil
	}
	if f.pgConfigBindir != nil {
		if dir, err := f.pgConfigBindir(); err == nil && check("pg_config --bindir", dir) {
			return dir, nil
		}
	}
	for _, g := range f.globs {
		matches, _ := filepath.Glob(g) // the patterns are constant and valid
		slices.SortFunc(matches, func(a, b string) int { return compareVersions(b, a) })
		for _, dir := range matches {
			if check("found", dir) {
				return dir, nil
			}
		}
		if len(matches) == 0 {
			tried = append(tried, g+": no match")
		}
	}
	return "", fmt.Errorf("%w (looked at: %s); install PostgreSQL (for example `apt-get install postgresql`, "+
		"`dnf install postgresql-server` or `brew install postgresql`), set PG_BIN to the directory holding "+
		"initdb and postgres, or set DATABASE_URL to use a server that is already running",
		ErrNotFound, strings.Join(tried, "; "))
}

// usableBinDir reports why dir cannot run a server, or nil if it holds executable initdb and
// postgres binaries.
func usableBinDir(dir string) error {
	for _, name := range []string{"initdb", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			return fmt.Errorf("no %s", name)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
			return fmt.Errorf("%s is not an executable file", name)
		}
	}
	return nil
}

var versionRE = regexp.MustCompile(`\d+(\.\d+)*`)

// compareVersions orders two binary directories by the version number in the name of their
// parent ("15" in /usr/lib/postgresql/15/bin, "16" in postgresql@16/bin). A directory with no
// number sorts first.
func compareVersions(a, b string) int {
	va := versionRE.FindString(filepath.Base(filepath.Dir(a)))
	vb := versionRE.FindString(filepath.Base(filepath.Dir(b)))
	pa, pb := strings.Split(va, "."), strings.Split(vb, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var na, nb int
		if i < len(pa) {
			na, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			nb, _ = strconv.Atoi(pb[i])
		}
		if c := cmp.Compare(na, nb); c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}
