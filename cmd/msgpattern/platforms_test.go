package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuildsOnEveryPlatform checks that every package of the module, the
// command included, and everything they import has source files for every
// platform `go tool dist list` names, without cgo where Go does not need it.
// A dependency whose build constraints leave out a platform (nats-server's
// pse and sysmem packages do, on aix, plan9 and freebsd/386 and arm without
// cgo) fails `go build` there; natsserver.go's build constraint must leave
// those platforms to natsserver_none.go. The check does not type-check
// (that would mean cross-compiling the module 47 times): nats.go's own
// sources do not compile on plan9, which it cannot see.
func TestBuildsOnEveryPlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("lists the module's packages for every platform")
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the go command is not on PATH: %v", err)
		}
		t.Skip("the go command is not on PATH")
	}
	out, err := exec.Command(goTool, "tool", "dist", "list", "-json").Output()
	if err != nil {
		t.Fatalf("go tool dist list: %v", err)
	}
	var platforms []struct{ GOOS, GOARCH string }
	if err := json.Unmarshal(out, &platforms); err != nil {
		t.Fatalf("go tool dist list: %v", err)
	}
	if len(platforms) < 40 {
		t.Fatalf("go tool dist list names %d platforms: want the 40 and more Go supports", len(platforms))
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range platforms {
		t.Run(p.GOOS+"_"+p.GOARCH, func(t *testing.T) {
			t.Parallel()
			cgo := "0"
			if p.GOOS == "android" || p.GOOS == "ios" {
				cgo = "1" // Go itself needs cgo there: every program links externally
			}
			cmd := exec.Command(goTool, "list", "-e", "-deps",
				"-f", `{{.ImportPath}} {{if .Error}}error: {{.Error}}{{else if not (or .GoFiles .CgoFiles)}}error: no source files for this platform{{end}}`,
				"./...")
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOOS="+p.GOOS, "GOARCH="+p.GOARCH, "CGO_ENABLED="+cgo)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("go list: %v\n%s", err, out)
			}
			var listed int
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				listed++
				pkg, problem, bad := strings.Cut(line, " error: ")
				if bad && pkg != "unsafe" { // unsafe has no files, and needs none
					t.Errorf("%s: %s", pkg, problem)
				}
			}
			if !strings.Contains(string(out), "github.com/msgpattern/msgpattern/cmd/msgpattern ") {
				t.Errorf("the command is not among the %d packages listed:\n%s", listed, out)
			}
		})
	}
}
