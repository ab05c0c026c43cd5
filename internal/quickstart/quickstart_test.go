package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestQuickStart builds the README's Quick Start program and checks that it
// serves ping and echo (on a free port rather than its :4061), shuts down gracefully on Ctrl-C (exit 0),
// and exits non-zero at once when the port is taken.
func TestQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	// The README's program listens on the fixed :4061, which another
	// process (another checkout's test run, say) may hold. It is built
	// verbatim but for that address, which an overlay makes a free port's.
	dir := t.TempDir()
	src, err := os.ReadFile("main.go")
	if err != nil || strings.Count(string(src), `":4061"`) != 1 {
		t.Fatalf("main.go should name \":4061\" once (err %v)", err)
	}
	l, err := net.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	abs, _ := filepath.Abs("main.go")
	overlay, _ := json.Marshal(map[string]any{"Replace": map[string]string{abs: filepath.Join(dir, "main.go")}})
	if os.WriteFile(filepath.Join(dir, "main.go"), []byte(strings.Replace(string(src), `":4061"`, `":`+port+`"`, 1)), 0o644) != nil ||
		os.WriteFile(filepath.Join(dir, "overlay.json"), overlay, 0o644) != nil {
		t.Fatal("writing the overlay")
	}
	bin := filepath.Join(dir, "quickstart")
	build := exec.Command("go", "build", "-overlay", filepath.Join(dir, "overlay.json"), "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("the Quick Start does not build: %v", err)
	}
	cmd := exec.Command(bin)
	var firstErr strings.Builder
	cmd.Stderr = &firstErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})

	var nc net.Conn
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("the Quick Start exited before serving: %v, stderr %q", err, firstErr.String())
		default:
		}
		if nc, err = net.Dial("tcp", "127.0.0.1:"+port); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("the Quick Start server does not listen on :%s: %v", port, err)
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

	// The port is taken now: a second instance fails at once, non-zero.
	second := exec.Command(bin)
	var stderr strings.Builder
	second.Stderr = &stderr
	start := time.Now()
	err = second.Run()
	if err == nil || time.Since(start) > 5*time.Second || !strings.Contains(stderr.String(), port) {
		t.Errorf("second instance on a taken port: %v after %v, stderr %q; want a non-zero exit at once naming the address", err, time.Since(start), stderr.String())
	}

	// Ctrl-C: a graceful shutdown, exit status 0.
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("after Ctrl-C the Quick Start exited with %v, want 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Error("the Quick Start did not exit within 10s of Ctrl-C")
	}
}
