package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoBuildOutputTracked: no compiled executable (Windows PE "MZ", ELF,
// Mach-O) is tracked in the repository: every `go get` of the module would
// download it with the source (a `GOOS=windows go build` at the root left
// a 44 MB msgpattern.exe, committed once).
func TestNoBuildOutputTracked(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("git ls-files: %v", err)
		}
		t.Skipf("not in a git work tree: %v", err)
	}
	magics := [][]byte{[]byte("MZ"), []byte("\x7fELF"), {0xcf, 0xfa, 0xed, 0xfe}}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		f, err := os.Open(filepath.Join(root, name))
		if err != nil {
			continue
		}
		head := make([]byte, 4)
		n, _ := f.Read(head)
		f.Close()
		for _, m := range magics {
			if bytes.HasPrefix(head[:n], m) {
				t.Errorf("%s is a compiled executable tracked in the repository", name)
			}
		}
	}
}
