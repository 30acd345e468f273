// Package cli holds the conventions every command of the program follows: -h, -help and
// --help print the command's usage to stdout and succeed; a wrong flag prints the usage to
// stderr and fails; `version` prints the module version and VCS revision of the binary.
package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
)

// FlagSet returns the flag set of `recert NAME`. synopsis is what follows the name on the usage
// line (arguments and flags), about says what the command does. Nothing is printed while
// parsing: Parse prints the usage where it belongs.
func FlagSet(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: recert %s %s\n\n%s\n", name, synopsis, about)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprint(w, "\nflags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// Parse parses args with fs (made by FlagSet), flags before, between or after the positional
// arguments, and returns the positional arguments. On -h, -help or --help it prints the usage
// to stdout and returns flag.ErrHelp, which the program treats as success (see Helped); on a
// bad flag it prints the error and the usage to stderr and returns the error.
func Parse(fs *flag.FlagSet, args []string, stdout, stderr io.Writer) ([]string, error) {
	var pos []string
	for {
		err := fs.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			Usage(fs, stdout)
			return nil, err
		case err != nil:
			fmt.Fprintf(stderr, "%s: %v\n", fs.Name(), err)
			Usage(fs, stderr)
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// ParseCommand is Parse for commands whose positional arguments are at most max words of
// the command (a subcommand), never data: a "help" among them asks for the usage too, and more
// than max is an error.
func ParseCommand(fs *flag.FlagSet, args []string, max int, stdout, stderr io.Writer) ([]string, error) {
	pos, err := Parse(fs, args, stdout, stderr)
	if err != nil {
		return nil, err
	}
	for _, p := range pos {
		if IsHelp(p) {
			Usage(fs, stdout)
			return nil, flag.ErrHelp
		}
	}
	if len(pos) > max {
		Usage(fs, stderr)
		return nil, fmt.Errorf("%s: unexpected arguments %q", fs.Name(), pos[max:])
	}
	return pos, nil
}

// Usage prints fs's usage to w.
func Usage(fs *flag.FlagSet, w io.Writer) {
	fs.SetOutput(w)
	fs.Usage()
	fs.SetOutput(io.Discard)
}

// Helped reports whether err only says that usage was printed on request: the command
// succeeded.
func Helped(err error) bool { return errors.Is(err, flag.ErrHelp) }

// IsHelp reports whether arg asks for help.
func IsHelp(arg string) bool {
	return arg == "help" || arg == "-h" || arg == "-help" || arg == "--help"
}

// Version writes the module path and version, the VCS revision and its time, whether the
// tree was modified, and the Go version, from the build information the Go toolchain embeds.
// `go build` records the revision; `go run` and test binaries do not ("revision unknown").
func Version(w io.Writer) error {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return errors.New("version: the binary carries no build information")
	}
	version(w, bi)
	return nil
}

func version(w io.Writer, bi *debug.BuildInfo) {
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	version := bi.Main.Version
	if version == "" {
		version = "(devel)"
	}
	fmt.Fprintf(w, "recert %s %s\n", bi.Main.Path, version)
	if rev := settings["vcs.revision"]; rev != "" {
		modified := ""
		if settings["vcs.modified"] == "true" {
			modified = " (modified)"
		}
		fmt.Fprintf(w, "revision %s %s%s\n", rev, settings["vcs.time"], modified)
	} else {
		fmt.Fprintln(w, "revision unknown (built without VCS information, e.g. by go run)")
	}
	fmt.Fprintf(w, "built with %s\n", bi.GoVersion)
}
