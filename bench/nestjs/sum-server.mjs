#!/usr/bin/env node
// A real NestJS TCP microservice with one pattern, "sum", for the benchmark
// suite's ~4 KiB payload. It starts exactly as interop/nestjs/server.mjs does
// (same packages, same options, same stdout contract: one line
// `LISTENING <port>`), and its "sum" is server.mjs's for array data
// (`data.reduce((a, b) => a + b, 0)`) and `data.a + data.b` for object data
// such as {"a":1,"b":2,"pad":"xxx…"}, on which server.mjs's handler would
// throw (an object has no reduce). The suite uses server.mjs itself for the
// [1,2] payload.
//
// usage: node sum-server.mjs --nest 10|11|12 [--host 127.0.0.1] [--port N]
import { parseCli, loadNest } from '../../interop/nestjs/cli.mjs';

const { args, port } = parseCli('sum-server.mjs', '[--port N]', {}, { anyPort: true });
const nest = await loadNest(args.nest);
const { Controller, Module } = nest.common;
const { NestFactory } = nest.core;
const { MessagePattern, Transport } = nest.microservices;

class SumController {
  sum(data) {
    return Array.isArray(data) ? data.reduce((a, b) => a + b, 0) : data.a + data.b;
  }
}
const proto = SumController.prototype;
MessagePattern('sum')(proto, 'sum', Object.getOwnPropertyDescriptor(proto, 'sum'));
Controller()(SumController);

class SumModule {}
Module({ controllers: [SumController] })(SumModule);

let app;
try {
  app = await NestFactory.createMicroservice(SumModule, {
    transport: Transport.TCP,
    options: { host: args.host, port },
    logger: ['error'],
  });
  const strategy = app.serverInstance ?? app.server;
  if (port === 0 && strategy && strategy.port !== 0) strategy.port = 0;
  await app.listen();
  const netServer = typeof strategy.unwrap === 'function' ? strategy.unwrap() : strategy.server;
  process.stdout.write(`LISTENING ${netServer.address().port}\n`);
} catch (e) {
  process.stderr.write(`server failed to start: ${e.stack || e}\n`);
  process.exit(1);
}

const shutdown = () => {
  setTimeout(() => process.exit(0), 2000).unref();
  Promise.resolve(app.close())
    .catch(() => {})
    .finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
