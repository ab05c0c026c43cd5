package main

// Commands that run while a test works with them: serve, and calls a test
// interrupts.

import (
	"net/http"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// proc is a msgpattern process started by a test, killed at cleanup if it
// is still running. Its stdout and stderr go to output, unless stdout is
// given.
type proc struct {
	cmd     *exec.Cmd
	stderr  *syncBuffer
	stdout  *syncBuffer
	exited  chan struct{} // closed once waitErr is set
	waitErr error
}

// serveProc is a `msgpattern serve` process.
type serveProc = proc

func startServe(t *testing.T, args ...string) *serveProc {
	t.Helper()
	return startProc(t, append([]string{"serve"}, args...)...)
}

// startProc starts msgpattern with args, its stdout apart from stderr.
func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, nil, args...)
}

// startProcEnv starts msgpattern with args and env added to the
// environment.
func startProcEnv(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{stderr: &syncBuffer{}, stdout: &syncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(binary, args...)
	p.cmd.Env = append(environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if args[0] == "serve" { // everything serve says, in order
		p.cmd.Stdout = p.stderr
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
	return p
}

// poll calls done until it returns true; what says what it waits for.
func (p *proc) poll(t *testing.T, what string, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !done() {
		select {
		case <-p.exited:
			t.Fatalf("msgpattern exited early (%v), before %s:\n%s", p.waitErr, what, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 15s:\n%s", what, p.stderr.String())
		}
	}
}

// waitFor waits until the process's stderr matches re, and returns the
// first submatch (or the match).
func (p *proc) waitFor(t *testing.T, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	var m []string
	p.poll(t, "output matching "+re, func() bool {
		m = rx.FindStringSubmatch(p.stderr.String())
		return m != nil
	})
	return m[len(m)-1]
}

// waitHTTP waits until url answers.
func waitHTTP(t *testing.T, p *proc, url string) {
	t.Helper()
	p.poll(t, url+" answering", func() bool {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})
}

// signal sends sig and waits for the exit, which must come within limit
// with code.
func (p *proc) signal(t *testing.T, sig syscall.Signal, limit time.Duration, code int) {
	t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
		if got := p.cmd.ProcessState.ExitCode(); got != code {
			t.Errorf("msgpattern %s exited with %v after %s, want exit %d:\n%s", p.cmd.Args[1], p.waitErr, sig, code, p.stderr.String())
		}
	case <-time.After(limit):
		t.Fatalf("msgpattern %s still running %s after %s:\n%s", p.cmd.Args[1], limit, sig, p.stderr.String())
	}
}

// stop sends SIGTERM and wants a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.signal(t, syscall.SIGTERM, 10*time.Second, 0)
}
