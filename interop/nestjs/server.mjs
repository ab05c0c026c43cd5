#!/usr/bin/env node
// A real NestJS TCP microservice implementing the interop "demo contract".
//
// usage: node server.mjs --nest 10|11|12 [--host 127.0.0.1] [--port N]
//
// stdout: exactly one line `LISTENING <port>` once the socket is bound (the
// real port, also when --port 0 asked the OS for a free one). Nothing else is
// ever written to stdout; Nest's error log (e.g. the stack of the "boom"
// handler's Error) goes to stderr. SIGTERM/SIGINT close the app and exit 0.
// Exit 1 (with a message on stderr) if the packages cannot be loaded or the
// port cannot be bound.
import { parseCli, loadNest } from './cli.mjs';
import { demoModule } from './demo.mjs';

const { args, port } = parseCli('server.mjs', '[--port N]', {}, { anyPort: true });
const host = args.host;

const nest = await loadNest(args.nest);
const { NestFactory } = nest.core;
const { Transport } = nest.microservices;
// The demo contract, plus "meta", "meta-evt" and "meta-events" (demo.mjs).
const DemoModule = demoModule(nest, { tcpMetadata: true });

// ---- start -------------------------------------------------------------------

let app;
try {
  app = await NestFactory.createMicroservice(DemoModule, {
    transport: Transport.TCP,
    options: { host, port },
    logger: ['error'],
  });
  // The transport strategy: `serverInstance` on v11+, `server` on v10.
  const strategy = app.serverInstance ?? app.server;
  // v10's ServerTCP turns port 0 into its default 3000 (`port || 3000`);
  // put the requested 0 back so the OS picks a free port.
  if (port === 0 && strategy && strategy.port !== 0) strategy.port = 0;
  await app.listen();
  const netServer = typeof strategy.unwrap === 'function' ? strategy.unwrap() : strategy.server;
  const bound = netServer.address().port;
  process.stdout.write(`LISTENING ${bound}\n`);
} catch (e) {
  process.stderr.write(`server failed to start: ${e.stack || e}\n`);
  process.exit(1);
}

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  // Nest 10's close() leaves accepted sockets open; do not wait for them.
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
