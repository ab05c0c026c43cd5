// Starting and stopping a NestJS microservice, shared by server.mjs (TCP),
// nats-server.mjs (NATS) and bench/nestjs/*.mjs (TCP): the same stdout
// contract (exactly one line, `LISTENING <where>`, once it serves), the
// same failures (exit 1, the reason on stderr) and the same shutdown
// (SIGTERM/SIGINT close the app and exit 0).

// serve creates the microservice of `module` with `options` (transport and
// its options; Nest logs errors only), calls `beforeListen(app)`, starts
// it, and prints `LISTENING ${await listening(app)}`. If any of that fails
// it says why on stderr and exits 1. From then on SIGTERM and SIGINT close
// the app and exit 0. It returns the app.
export async function serve(nest, module, options, { beforeListen = () => {}, listening }) {
  let app;
  try {
    app = await nest.core.NestFactory.createMicroservice(module, { ...options, logger: ['error'] });
    beforeListen(app);
    await app.listen();
    const where = await listening(app);
    process.stdout.write(`LISTENING ${where}\n`);
  } catch (e) {
    process.stderr.write(`server failed to start: ${e.stack || e}\n`);
    process.exit(1);
  }
  closeOnSignals(app);
  return app;
}

// serveTcp serves `module` over TCP on host:port (port 0: the OS picks a
// free one) and prints `LISTENING <port>`, the port bound.
export function serveTcp(nest, module, { host, port }) {
  // The transport strategy: `serverInstance` on v11+, `server` on v10.
  const strategyOf = (app) => app.serverInstance ?? app.server;
  return serve(nest, module, { transport: nest.microservices.Transport.TCP, options: { host, port } }, {
    beforeListen(app) {
      // v10's ServerTCP turns port 0 into its default 3000 (`port || 3000`);
      // put the requested 0 back so the OS picks a free port.
      const strategy = strategyOf(app);
      if (port === 0 && strategy && strategy.port !== 0) strategy.port = 0;
    },
    listening(app) {
      const strategy = strategyOf(app);
      const netServer = typeof strategy.unwrap === 'function' ? strategy.unwrap() : strategy.server;
      return netServer.address().port;
    },
  });
}

// closeOnSignals closes app on SIGTERM or SIGINT and exits 0: after 2 s at
// the latest, since Nest 10's close() leaves accepted sockets open.
function closeOnSignals(app) {
  let stopping = false;
  async function shutdown(signal) {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(0), 2000).unref();
    try {
      await app.close();
    } catch (e) {
      process.stderr.write(`error while closing on ${signal}: ${e.stack || e}\n`);
    }
    process.exit(0);
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
