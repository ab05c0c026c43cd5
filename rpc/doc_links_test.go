package rpc_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocLinksToWireResolve: every [wire.Name] doc link in package rpc
// names something package wire exports. Dispatch's documentation sent
// transport authors to [wire.ErrInvalidJSON], which does not exist (the
// errors are wire.ErrSyntax, ErrTooDeep, ErrNotEnded and ErrNotObject).
func TestDocLinksToWireResolve(t *testing.T) {
	t.Parallel()
	exported := map[string]bool{}
	fset := token.NewFileSet()
	wireFiles, _ := filepath.Glob("../wire/*.go")
	for _, f := range wireFiles {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Recv == nil && fd.Name.IsExported() {
				exported[fd.Name.Name] = true
			}
			if gd, ok := d.(*ast.GenDecl); ok {
				for _, sp := range gd.Specs {
					switch sp := sp.(type) {
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							exported[n.Name] = true
						}
					case *ast.TypeSpec:
						exported[sp.Name.Name] = true
					}
				}
			}
		}
	}
	if len(exported) == 0 {
		t.Fatal("no wire declarations found")
	}
	link := regexp.MustCompile(`\[wire\.([A-Za-z0-9_]+)`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(src), "\n") {
			c := strings.Index(line, "//")
			if c < 0 {
				continue
			}
			for _, m := range link.FindAllStringSubmatch(line[c:], -1) {
				if !exported[m[1]] {
					t.Errorf("%s: doc link [wire.%s]: package wire has no %s", f, m[1], m[1])
				}
			}
		}
	}
}
