#!/usr/bin/env node
// A real NestJS NATS microservice (Transport.NATS) implementing the interop
// "demo contract" (demo.mjs), as server.mjs does over TCP.
//
// usage: node nats-server.mjs --nest 11|12 [--url nats://127.0.0.1:4222] [--queue NAME]
//
// --queue puts every subscription in that queue group (NestJS's
// options.queue), so that several instances share the requests; without it
// there is none, as by NestJS's default, and every instance answers every
// request.
//
// stdout: exactly one line `LISTENING <url>` once connected, subscribed and
// flushed (the NATS server has the subscriptions: a request sent after the
// line finds its handler). Nothing else is ever written to stdout; Nest's
// error log goes to stderr. SIGTERM/SIGINT close the app and exit 0. Exit 1
// if the packages cannot be loaded or the NATS server cannot be reached; 2
// for bad arguments.
import { parseNatsCli, loadNest } from './cli.mjs';
import { demoModule } from './demo.mjs';
import { serve } from './serve.mjs';

const { args } = parseNatsCli('nats-server.mjs', '[--queue NAME]', { queue: { type: 'string' } });
const nest = await loadNest(args.nest);

const options = { servers: args.url, name: `nest${args.nest}-nats-server` };
if (args.queue) options.queue = args.queue;
await serve(nest, demoModule(nest), { transport: nest.microservices.Transport.NATS, options }, {
  // The SUBs are written asynchronously: flush, so that the NATS server has
  // them before anyone is told to call.
  listening: async (app) => {
    await app.serverInstance.unwrap().flush();
    return args.url;
  },
});
