// Package repocheck holds tests of rules that span the whole repository: the schema is
// documented, the error codes of the schema are the codes the server returns, references in
// code and documents point inside the repository, and resolvers are written by hand in
// graph/<area>.go. It has no code of its own; its tests run from the module root.
package repocheck

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func TestMain(m *testing.M) {
	if err := chdirModuleRoot(); err != nil {
		fmt.Fprintln(os.Stderr, "repocheck:", err)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// chdirModuleRoot makes the module root (the directory holding go.mod) the working directory,
// so the tests read schema.graphqls, docs/ and the source tree by their repository paths.
func chdirModuleRoot() error {
	dir, err := os.Getwd()
	if err != nil {
		return err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return os.Chdir(dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}
