#!/usr/bin/env node
// A real NestJS TCP microservice with one pattern, "sum", for the benchmark
// suite's ~4 KiB payload. It starts exactly as interop/nestjs/server.mjs does
// (one-pattern.mjs: same packages, same options, same stdout contract: one line
// `LISTENING <port>`), and its "sum" is server.mjs's for array data
// (`data.reduce((a, b) => a + b, 0)`) and `data.a + data.b` for object data
// such as {"a":1,"b":2,"pad":"xxx…"}, on which server.mjs's handler would
// throw (an object has no reduce). The suite uses server.mjs itself for the
// [1,2] payload.
//
// usage: node sum-server.mjs --nest 10|11|12 [--host 127.0.0.1] [--port N]
import { serveOnePattern } from './one-pattern.mjs';

await serveOnePattern('sum-server.mjs', 'sum', (data) =>
  Array.isArray(data) ? data.reduce((a, b) => a + b, 0) : data.a + data.b,
);
