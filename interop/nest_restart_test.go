package interop_test

// A NestJS ClientProxy kept alive across our server's restart and
// shutdown: a real application's client outlives the servers it calls.
// The node process (a script written to a temporary directory) reads one
// JSON command a line on stdin and prints one scenario line per command.

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

const driverClientScript = `
import { parseCli, loadNest } from '__DIR__/cli.mjs';
import { scenarioKit } from '__DIR__/scenarios.mjs';
import { createInterface } from 'node:readline';
const { args, port } = parseCli('driver-client.mjs', '--port N');
const nest = await loadNest(args.nest);
const { ClientProxyFactory, Transport } = nest.microservices;
const { firstValueFrom, timeout } = nest.rxjs;
const { withTimeout, errorValue } = scenarioKit(nest);
const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: args.host, port } });
const out = (line) => process.stdout.write(JSON.stringify(line) + '\n');
// {"name":…, "pattern":…, "data":…}: send, one line when it settles (in
// completion order: several may be in flight). {"close":true}: exit.
for await (const text of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(text);
  if (cmd.close) break;
  // "timeout": the caller's own rxjs timeout in ms (it gives up, the
  // reply may still come).
  const obs = cmd.timeout ? client.send(cmd.pattern, cmd.data).pipe(timeout(cmd.timeout)) : withTimeout(client.send(cmd.pattern, cmd.data));
  firstValueFrom(obs).then(
    (result) => out({ scenario: cmd.name, ok: true, result: result ?? null, error: null }),
    (e) => out({ scenario: cmd.name, ok: false, result: null, error: errorValue(e) }),
  );
}
await client.close();
process.stdout.write('', () => process.exit(0));
`

// nestDriver is a running driver-client.mjs.
type nestDriver struct {
	t     *testing.T
	stdin io.WriteCloser
	lines chan scenarioResult
}

func startNestDriver(t *testing.T, node, major, port string) *nestDriver {
	t.Helper()
	script := writeNestScript(t, "driver-client.mjs", driverClientScript)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, script, "--nest", major, "--host", "127.0.0.1", "--port", port)
	cmd.Dir = "nestjs"
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	d := &nestDriver{t: t, stdin: stdin, lines: make(chan scenarioResult, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var r scenarioResult
			if json.Unmarshal(sc.Bytes(), &r) == nil {
				d.lines <- r
			}
		}
	}()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
		cancel()
		<-done
		_ = cmd.Wait()
	})
	return d
}

// send asks the driver to send and does not wait.
func (d *nestDriver) send(name string, pattern, data any) { d.sendWithin(name, pattern, data, 0) }

// sendWithin is send with the caller's own rxjs timeout of ms (0: the
// scenarios' 10 s).
func (d *nestDriver) sendWithin(name string, pattern, data any, ms int) {
	d.t.Helper()
	b, _ := json.Marshal(map[string]any{"name": name, "pattern": pattern, "data": data, "timeout": ms})
	if _, err := d.stdin.Write(append(b, '\n')); err != nil {
		d.t.Fatal(err)
	}
}

// next is the driver's next result line.
func (d *nestDriver) next() scenarioResult {
	d.t.Helper()
	select {
	case r := <-d.lines:
		return r
	case <-time.After(30 * time.Second):
		d.t.Fatal("no result from driver-client.mjs within 30 s")
	}
	return scenarioResult{}
}

// TestNestClientAcrossGoServerRestart: a NestJS ClientProxy's requests in
// flight when our server shuts down gracefully still get their replies;
// once the server is gone a call fails at once (not at its timeout); a new
// server on the same port is reached by the same ClientProxy.
func TestNestClientAcrossGoServerRestart(t *testing.T) {
	node := requireNode(t)
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			t.Parallel()
			first := newDemoServer(rpc.Config{})
			if err := first.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { first.Close() })
			addr := first.Addr().String()
			_, port, _ := net.SplitHostPort(addr)
			d := startNestDriver(t, node, v, port)

			d.send("before", "sum", []int{1, 2})
			if r := d.next(); !r.OK || string(r.Result) != "3" {
				t.Fatalf("before: %+v", r)
			}
			// Three slow calls in flight, then a graceful shutdown.
			for range 3 {
				d.send("in-flight", "slow", 300)
			}
			waitUntil(t, "3 slow calls running", 10*time.Second, func() bool { return first.GetMetrics().InFlight == 3 })
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := first.Shutdown(ctx); err != nil {
				t.Errorf("Shutdown: %v", err)
			}
			cancel()
			for range 3 {
				if r := d.next(); !r.OK || string(r.Result) != `"slow:300"` {
					t.Errorf("a call in flight during the graceful shutdown: %+v, want slow:300", r)
				}
			}

			// Nothing listens: the call fails at once (ECONNREFUSED or
			// the closed connection), not by its 10 s timeout.
			start := time.Now()
			d.send("down", "sum", []int{1})
			if r := d.next(); r.OK || string(r.Error) == `"TIMEOUT"` {
				t.Errorf("call while the server is down: %+v, want an error at once", r)
			}
			t.Logf("call while down failed after %v", time.Since(start).Round(time.Millisecond))

			second := newDemoServer(rpc.Config{Addr: addr})
			startServer(t, second)
			var last scenarioResult
			for i := 0; i < 20; i++ {
				d.send("after-restart", "sum", []int{4, 5})
				if last = d.next(); last.OK {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if !last.OK || string(last.Result) != "9" {
				t.Fatalf("after the restart: %+v", last)
			}
			d.send("stream-after-restart", "stream3", map[string]any{})
			if r := d.next(); !r.OK || string(r.Result) != "1" {
				t.Errorf("stream3 first value after the restart: %+v", r)
			}
		})
	}
}

// TestNestClientSendToEventHandler: a NestJS server keeps message and event
// handlers in one map, so a request (send) to a pattern that only an
// @EventPattern handler has runs that handler and completes with no value
// (measured with NestJS 12.1.1 client and server: the event handler runs,
// firstValueFrom rejects with EmptyError "no elements in sequence").
func TestNestClientSendToEventHandler(t *testing.T) {
	node := requireNode(t)
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			t.Parallel()
			srv := newDemoServer(rpc.Config{})
			d := startNestDriver(t, node, v, startServer(t, srv))
			d.send("send-to-event", "evt", map[string]int{"n": 7})
			r := d.next()
			if r.OK || string(r.Error) != `{"jsError":"EmptyErrorImpl","message":"no elements in sequence"}` {
				t.Errorf("send to an event-only pattern: %+v, want the event handler run and no value (EmptyError), as a NestJS server does", r)
			}
			d.send("events", "events", map[string]any{})
			if r := d.next(); !r.OK || string(r.Result) != `[{"n":7}]` {
				t.Errorf("events after the send: %+v, want [{\"n\":7}] (the event handler ran)", r)
			}
		})
	}
}

// TestNestClientTimeouts: our server's Config.Timeout reaches a NestJS
// client as an error at the deadline; a NestJS client that gives up on a
// call itself (rxjs timeout) then gets the late reply dropped and its next
// calls answered, on the same connection.
func TestNestClientTimeouts(t *testing.T) {
	node := requireNode(t)
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			t.Parallel()
			// The server's timeout is 5 times the longest call that must
			// beat it ("slow-after"): at 300 ms against 250, a 50 ms stall
			// of a loaded machine turned that call into a timeout.
			srv := newDemoServer(rpc.Config{Timeout: 3 * time.Second})
			d := startNestDriver(t, node, v, startServer(t, srv))
			d.send("server-timeout", "slow", 5000)
			r := d.next()
			if r.OK || string(r.Error) != `{"status":"error","message":"Request timed out after 3s"}` {
				t.Errorf("server timeout: %+v", r)
			}
			// The handler takes 8 times the client's 50 ms: node's timer
			// loses to the reply only if node stalls for 350 ms (with
			// 200 ms, a 150 ms stall was enough).
			d.sendWithin("client-timeout", "slow", 400, 50)
			if r := d.next(); r.OK || string(r.Error) != `{"jsError":"TimeoutErrorImpl","message":"Timeout has occurred"}` && string(r.Error) != `"TIMEOUT"` {
				t.Errorf("client timeout: %+v", r)
			}
			// Still pending when the late reply (at about 400 ms) comes.
			d.send("slow-after", "slow", 600)
			d.send("sum-after", "sum", []int{2, 3})
			got := map[string]string{}
			for range 2 {
				r := d.next()
				got[r.Scenario] = string(r.Result)
			}
			if got["slow-after"] != `"slow:600"` || got["sum-after"] != "5" {
				t.Errorf("after the timeouts: %v", got)
			}
		})
	}
}
