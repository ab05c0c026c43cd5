package rpc_test

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/msgpattern/msgpattern/rpc"
)

// TestServerDocConfigTableNamesEveryField: docs/SERVER.md opens with "every
// `Config` field", and README points to it for "every `Config` field and its
// default". Its Configuration table must then have a row for each field of
// rpc.Config.
func TestServerDocConfigTableNamesEveryField(t *testing.T) {
	doc, err := os.ReadFile("../docs/SERVER.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(doc), "\n## Configuration\n")
	if !ok {
		t.Fatal("docs/SERVER.md has no Configuration section")
	}
	sec, _, _ = strings.Cut(sec, "\n## ")
	named := map[string]bool{}
	for _, line := range strings.Split(sec, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first := strings.Split(line, "|")[1]
		for _, m := range regexp.MustCompile("`([A-Za-z]+)`").FindAllStringSubmatch(first, -1) {
			named[m[1]] = true
		}
	}
	typ := reflect.TypeOf(rpc.Config{})
	for i := range typ.NumField() {
		if f := typ.Field(i); f.IsExported() && !named[f.Name] {
			t.Errorf("docs/SERVER.md's Configuration table has no row for Config.%s", f.Name)
		}
	}
}
