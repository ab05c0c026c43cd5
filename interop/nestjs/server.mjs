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
import { serveTcp } from './serve.mjs';

const { args, port } = parseCli('server.mjs', '[--port N]', {}, { anyPort: true });
const nest = await loadNest(args.nest);
// The demo contract, plus "meta", "meta-evt" and "meta-events" (demo.mjs).
await serveTcp(nest, demoModule(nest, { tcpMetadata: true }), { host: args.host, port });
