package main

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestQuickStart builds the README's Quick Start program and checks that it
// serves ping and echo on :4061.
func TestQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "quickstart")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("the Quick Start does not build: %v", err)
	}
	cmd := exec.Command(bin)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	var nc net.Conn
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if nc, err = net.Dial("tcp", "127.0.0.1:4061"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("the Quick Start server does not listen on :4061: %v", err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	nc.Write([]byte(`{"pattern":"ping","data":{},"id":1}` + "\n" + `{"pattern":"echo","data":{"a":[1,"x"]},"id":2}` + "\n"))
	r := bufio.NewReader(nc)
	want := map[string]bool{
		`{"response":"pong","isDisposed":true,"id":1}` + "\n":        true,
		`{"response":{"a":[1,"x"]},"isDisposed":true,"id":2}` + "\n": true,
	}
	for range 2 {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading a reply: %v", err)
		}
		if !want[line] {
			t.Errorf("unexpected reply %q; want one of %v", line, want)
		}
		delete(want, line)
	}
}
