package interop_test

// Our client with rpc.WithTLS against a real NestJS TCP server with
// `tlsOptions` (mutual TLS: requestCert, rejectUnauthorized) of each major.

import (
	"context"
	"testing"
	"time"

	"github.com/msgpattern/msgpattern/internal/testcert"
	"github.com/msgpattern/msgpattern/rpc"
)

const tlsServerScript = `
import { parseCli, loadNest } from '__DIR__/cli.mjs';
import { serve } from '__DIR__/serve.mjs';
import { demoModule } from '__DIR__/demo.mjs';
import { readFileSync } from 'node:fs';
const { args, port } = parseCli('tls-server.mjs', '[--port N] --cert c --key k --ca ca', {
  cert: { type: 'string' }, key: { type: 'string' }, ca: { type: 'string' },
}, { anyPort: true });
const nest = await loadNest(args.nest);
const tlsOptions = {
  cert: readFileSync(args.cert), key: readFileSync(args.key), ca: readFileSync(args.ca),
  requestCert: true, rejectUnauthorized: true,
};
const strategyOf = (app) => app.serverInstance ?? app.server;
await serve(nest, demoModule(nest, { tcpMetadata: true }),
  { transport: nest.microservices.Transport.TCP, options: { host: args.host, port, tlsOptions } }, {
  beforeListen(app) {
    const s = strategyOf(app);
    if (port === 0 && s && s.port !== 0) s.port = 0;
  },
  listening(app) {
    const s = strategyOf(app);
    const net = typeof s.unwrap === 'function' ? s.unwrap() : s.server;
    return net.address().port;
  },
});
`

// TestGoClientToNestServerTLS: the demo contract over mutual TLS, our
// client to a NestJS server of each major; without a client certificate
// the call fails (at once, not at its deadline).
func TestGoClientToNestServerTLS(t *testing.T) {
	node := requireNode(t)
	certs := testcert.New(t, t.TempDir())
	script := writeNestScript(t, "tls-server.mjs", tlsServerScript)
	for _, v := range nestMajors {
		t.Run("nest"+v, func(t *testing.T) {
			t.Parallel()
			p := startNestTCP(t, node, v, script,
				"--cert", certs.ServerCert, "--key", certs.ServerKey, "--ca", certs.CA)
			c := newNestClient(t, p.addr(), rpc.WithTLS(certs.ClientConfig(true)))
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			k := contractChecks{t: t, ctx: ctx, c: c}
			k.checkPatterns()
			k.check("1 MiB echo", k.echoLarge)
			k.checkStreamAndErrors()
			k.check("events", func() error { return k.events(false) })
			k.check("200 concurrent", k.concurrentSum2(200))
			k.check("metadata", k.metadata)

			noCert := newNestClient(t, p.addr(), rpc.WithTLS(certs.ClientConfig(false)))
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			defer ccancel()
			start := time.Now()
			err := noCert.Send(cctx, "sum", []int{1}, nil)
			if err == nil || isRemoteError(err) || cctx.Err() != nil {
				t.Errorf("call without a client certificate: %v after %v, want a connection error at once", err, time.Since(start))
			}
			t.Logf("without a client certificate: %v", err)
		})
	}
}
