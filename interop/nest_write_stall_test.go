package interop_test

// A NestJS 11/12 ClientProxy stops reading its socket while its own writes
// are backed up (JsonSocket.applyBackpressure pauses the socket until
// "drain"). A burst of large requests makes it do so while our server, which
// stops reading a connection whose replies queue up, sends it nothing more:
// neither side progresses. Config.WriteTimeout promises to drop such a peer
// once its socket has taken no bytes for WriteTimeout; the NestJS client then
// fails its calls with "Connection closed" (a NestJS server would wait for
// its 128 MB send buffer limit, which this burst never reaches).

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/rpc"
)

const stallClientScript = `
import { parseCli, loadNest } from '__DIR__/cli.mjs';
const { args, port } = parseCli('stall-client.mjs', '--port N');
const nest = await loadNest(args.nest);
const { ClientProxyFactory, Transport } = nest.microservices;
const { firstValueFrom, timeout } = nest.rxjs;
const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: args.host, port } });
await client.connect();
const s = 'x'.repeat(10000);
const calls = Array.from({ length: 2000 }, (_, i) => firstValueFrom(client.send('echo', s + i).pipe(timeout(25000))));
// send() connects in a microtask: the requests are written once this yields.
await new Promise((r) => setImmediate(r));
const t0 = Date.now();
let firstErrorAt = null;
const res = await Promise.allSettled(calls.map((p) => p.catch((e) => { firstErrorAt ??= Date.now() - t0; throw e; })));
const errors = [...new Set(res.filter((r) => r.status === 'rejected').map((r) => String(r.reason?.message ?? r.reason)))];
process.stdout.write(JSON.stringify({ ok: res.filter((r) => r.status === 'fulfilled').length, firstErrorAt, errors }) + '\n', () => process.exit(0));
`

func TestNestClientBackpressureStallDroppedWithinWriteTimeout(t *testing.T) {
	node := requireNode(t)
	script := writeNestScript(t, "stall-client.mjs", stallClientScript)
	const writeTimeout = 8 * time.Second
	srv := newDemoServer(rpc.Config{WriteTimeout: writeTimeout})
	port := startServer(t, srv)
	out, err := exec.Command(node, script, "--nest", "12", "--host", "127.0.0.1", "--port", port).Output()
	if err != nil {
		t.Fatalf("stall-client.mjs: %v\n%s", err, out)
	}
	var got struct {
		OK           int      `json:"ok"`
		FirstErrorAt *int64   `json:"firstErrorAt"`
		Errors       []string `json:"errors"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("stall-client.mjs printed %q: %v", out, err)
	}
	if got.OK == 2000 {
		// Nothing was tested: a hidden failure under CI.
		if os.Getenv("CI") == "true" {
			t.Fatal("the NestJS client never stalled (all 2000 answered): the bound was not exercised")
		}
		t.Skip("the NestJS client never stalled (all 2000 answered)")
	}
	if got.FirstErrorAt == nil || len(got.Errors) != 1 || !strings.Contains(got.Errors[0], "Connection closed") {
		t.Fatalf("client got %+v, want the connection dropped (Connection closed)", got)
	}
	// The socket stops taking bytes soon after the burst (measured: within
	// a quarter of the timeout). The bound holds within another quarter
	// (the write looks at the peer's progress that often): 1.25–1.5× the
	// timeout from the burst, measured; the limit allows a quarter more.
	// It once took twice the timeout (7.8 s of 4 s): a write whose
	// deadline expired having sent bytes at its start got a fresh, whole
	// timeout.
	limit := writeTimeout + 3*writeTimeout/4
	t.Logf("dropped %v after the burst", time.Duration(*got.FirstErrorAt)*time.Millisecond)
	if d := time.Duration(*got.FirstErrorAt) * time.Millisecond; d > limit {
		t.Errorf("connection dropped %v after the burst, want within %v: WriteTimeout is %v without progress", d, limit, writeTimeout)
	}
}
