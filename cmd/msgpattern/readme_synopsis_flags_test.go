package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestReadmeSynopsisNamesEveryFlag: README's "Command line" synopsis is the
// CLI's reference (TestDocsNameEveryCommand); each command's line there
// must name every flag its -h lists ([TLS] standing for the TLS flags).
func TestReadmeSynopsisNamesEveryFlag(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, synopsis, _ := strings.Cut(string(readme), "## Command line\n")
	synopsis, _, _ = strings.Cut(synopsis, "\n\nHelp goes")
	lines := map[string]string{} // command → its synopsis, continuation lines included
	cmd := ""
	for _, l := range strings.Split(synopsis, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "msgpattern" && strings.HasPrefix(l, "    msgpattern") {
			cmd = f[1]
		} else if !strings.HasPrefix(l, "                 ") {
			cmd = ""
		}
		if cmd != "" {
			lines[cmd] += " " + l
		}
	}
	flagRE := regexp.MustCompile(`(?m)^  (-{1,2}[a-z][a-z-]*)`)
	tlsFlags := map[string]bool{"--tls": true, "--cacert": true, "--cert": true, "--key": true, "--insecure": true}
	for _, name := range []string{"serve", "send", "emit", "bench", "list", "health"} {
		r := runCLI(t, invocation{args: []string{name, "-h"}})
		_, flags, _ := strings.Cut(r.stdout, "\nFlags:\n")
		syn, ok := lines[name]
		if !ok {
			t.Errorf("no synopsis line for %s", name)
			continue
		}
		var missing []string
		for _, m := range flagRE.FindAllStringSubmatch(flags, -1) {
			f := m[1]
			if tlsFlags[f] && strings.Contains(syn, "[TLS]") {
				continue
			}
			if !regexp.MustCompile(regexp.QuoteMeta(f) + `\b`).MatchString(syn) {
				missing = append(missing, f)
			}
		}
		if len(missing) > 0 {
			t.Errorf("README's synopsis of `msgpattern %s` lacks %s", name, strings.Join(missing, " "))
		}
	}
}
