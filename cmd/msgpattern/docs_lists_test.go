package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/internal/demo"
	"github.com/msgpattern/msgpattern/rpc"
)

// oneLine folds runs of white space into one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// TestServeHelpNamesEveryDemoPattern: 'msgpattern help serve' says
// "Serve the demo patterns (ping, echo, sum, 42, …; event evt)", a list
// without an ellipsis, which a user takes as the whole contract; README's
// "The two commands" names them all. Every pattern internal/demo registers
// must be in both.
func TestServeHelpNamesEveryDemoPattern(t *testing.T) {
	srv := rpc.NewServer(&rpc.Config{Addr: "127.0.0.1:0"}, nil)
	demo.Register(srv)
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	help := oneLine(serveUsage)
	for _, p := range srv.Patterns(false) {
		if !strings.Contains(help, p.Pattern) {
			t.Errorf("'msgpattern help serve' does not name the demo pattern %s (%s)", p.Pattern, p.Kind)
		}
		if !strings.Contains(oneLine(string(readme)), "`"+p.Pattern+"`") {
			t.Errorf("README.md does not name the demo pattern %s", p.Pattern)
		}
	}
}

// TestArchitectureListsEveryPackage: ARCHITECTURE.md's package table
// is the map of the code. Every package of the module that production code
// uses (every package outside internal/, and every internal package that a
// non-test file imports) must appear in it; helpers imported by tests only
// need not.
func TestArchitectureListsEveryPackage(t *testing.T) {
	root := filepath.Join("..", "..")
	arch, err := os.ReadFile(filepath.Join(root, "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	const mod = "github.com/msgpattern/msgpattern"
	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{join .Imports " "}}`, "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var all []string
	used := map[string]bool{} // imported by some non-test file of the module
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		path, imports, _ := strings.Cut(line, "|")
		all = append(all, path)
		for _, imp := range strings.Fields(imports) {
			used[imp] = true
		}
	}
	for _, path := range all {
		rel := strings.TrimPrefix(strings.TrimPrefix(path, mod), "/")
		if rel == "" || (strings.HasPrefix(rel, "internal/") && !used[path]) {
			continue
		}
		if !strings.Contains(string(arch), "`"+rel+"`") {
			t.Errorf("ARCHITECTURE.md's package table does not list `%s`, which production code uses", rel)
		}
	}
}

// TestDocsNameEveryCommand: README's "Command line" synopsis is the
// reference of the CLI, and ARCHITECTURE.md's row for cmd/msgpattern names
// its commands; both must name every command 'msgpattern help' lists.
func TestDocsNameEveryCommand(t *testing.T) {
	var b strings.Builder
	usage(&b)
	_, cmds, _ := strings.Cut(b.String(), "Commands:\n")
	cmds, _, _ = strings.Cut(cmds, "\n\n")
	var names []string
	for _, line := range strings.Split(cmds, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	if !slices.Contains(names, "list") {
		t.Fatalf("could not read the commands from the usage: %q", names)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, synopsis, _ := strings.Cut(string(readme), "## Command line\n")
	synopsis, _, _ = strings.Cut(synopsis, "\n\nHelp goes")
	arch, err := os.ReadFile(filepath.Join("..", "..", "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `cmd/msgpattern` \\|.*$").FindString(string(arch))
	if row == "" {
		t.Fatal("ARCHITECTURE.md has no row for cmd/msgpattern")
	}
	for _, name := range names {
		if !strings.Contains(synopsis, "msgpattern "+name) {
			t.Errorf("README's \"Command line\" synopsis has no line for `msgpattern %s`", name)
		}
		if name != "help" && name != "version" && !strings.Contains(row, "`"+name+"`") {
			t.Errorf("ARCHITECTURE.md's cmd/msgpattern row does not name `%s`", name)
		}
	}
}
