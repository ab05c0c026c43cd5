//go:build linux

package main

import (
	"regexp"
	"testing"
)

// TestServeTryHintReachesTheServer: the command serve suggests ("try: msgpattern
// send --addr …") reaches the server it started, whatever address it listens
// on; "localhost" is right only for a server listening on every interface
// or the usual loopback address. (Linux: 127.0.0.2 is on its loopback.)
func TestServeTryHintReachesTheServer(t *testing.T) {
	p := startServe(t, "--addr", "127.0.0.2:0")
	hinted := p.waitFor(t, `msgpattern send --addr (\S+) ping`)
	r := runCLI(t, invocation{args: []string{"send", "--addr", hinted, "--timeout", "5s", "ping"}})
	if r.code != exitOK || r.stdout != "\"pong\"\n" {
		t.Errorf("the hinted `msgpattern send --addr %s ping` exited %d, stdout %q:\n%s", hinted, r.code, r.stdout, r.stderr)
	}
	if nc := regexp.MustCompile(`nc -q1 (\S+) (\d+)`).FindStringSubmatch(p.stderr.String()); nc == nil || nc[1] != "127.0.0.2" {
		t.Errorf("the nc hint does not name the listening host 127.0.0.2: %q", nc)
	}
	p.stop(t)
}
