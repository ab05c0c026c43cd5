#!/usr/bin/env node
// Load from ONE real NestJS ClientProxy (TCP transport, one socket): keeps
// C sends in flight until R replies have arrived, then prints one JSON line.
//
// usage: node bench.mjs --nest 10|11|12 [--host 127.0.0.1] --port N
//          [--concurrency C] [--requests R] [--pattern sum] [--data '[1,2]']
//          [--expect 3] [--warmup W]
//
// --pattern is a string pattern, or JSON when it parses to an object or a
// number (`--pattern 42`, `--pattern '{"cmd":"sum"}'`). --data is JSON
// (default [1,2]; a Nest ClientProxy refuses null data). --expect is JSON:
// a reply that is not deep-equal to it counts as an error. --warmup sends W
// requests (same concurrency) before the clock starts, so that connecting
// and V8's JIT are not measured.
//
// stdout: exactly one line,
//   {"requests":R,"seconds":<wall time of the R requests>,"rps":<R/seconds>,"errors":<count>,"nest":"<version>"}
// `errors` counts failed sends and, with --expect, wrong replies; the first
// error is described on stderr. Exit 0 once the line is printed, whatever
// `errors` says; 1 if the harness broke (packages not loadable, cannot
// connect); 2 for bad arguments.
import { isDeepStrictEqual } from 'node:util';
import { parseCli, loadNest } from './cli.mjs';

const { args, port, usage } = parseCli(
  'bench.mjs',
  "--port N [--concurrency C] [--requests R] [--pattern sum] [--data '[1,2]'] [--expect 3] [--warmup W]",
  {
    concurrency: { type: 'string', default: '64' },
    requests: { type: 'string', default: '10000' },
    pattern: { type: 'string', default: 'sum' },
    data: { type: 'string', default: '[1,2]' },
    expect: { type: 'string' },
    warmup: { type: 'string', default: '0' },
  },
);
const positive = (name, min) => {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer >= ${min}`);
  return n;
};
const concurrency = positive('concurrency', 1);
const requests = positive('requests', 1);
const warmup = positive('warmup', 0);
const json = (name) => {
  try {
    return JSON.parse(args[name]);
  } catch (e) {
    return usage(`--${name} is not JSON: ${e.message}`);
  }
};
const data = json('data');
if (data === null) usage('--data must not be null (a Nest ClientProxy refuses it)');
const hasExpect = args.expect !== undefined;
const expected = hasExpect ? json('expect') : undefined;
let pattern = args.pattern;
try {
  const p = JSON.parse(pattern);
  if (typeof p === 'number' || (p !== null && typeof p === 'object')) pattern = p;
} catch {
  // a plain string pattern
}

const nest = await loadNest(args.nest);
const { ClientProxyFactory, Transport } = nest.microservices;
const { firstValueFrom } = nest.rxjs;

const client = ClientProxyFactory.create({
  transport: Transport.TCP,
  options: { host: args.host, port },
});
try {
  await client.connect();
} catch (e) {
  process.stderr.write(`cannot connect to ${args.host}:${port}: ${e.stack || e}\n`);
  process.exit(1);
}

let firstError = null;
function describe(e) {
  if (e instanceof Error) return `${e.constructor?.name || 'Error'}: ${e.message}`;
  return JSON.stringify(e);
}

// run sends n requests, at most `concurrency` at a time, and resolves with
// the number of errors once every reply (or failure) is in.
function run(n) {
  return new Promise((resolve) => {
    if (n === 0) return resolve(0);
    let launched = 0;
    let finished = 0;
    let errors = 0;
    const done = () => {
      finished++;
      if (launched < n) launch();
      else if (finished === n) resolve(errors);
    };
    const fail = (e) => {
      errors++;
      firstError ??= e;
    };
    const launch = () => {
      launched++;
      firstValueFrom(client.send(pattern, data)).then(
        (r) => {
          if (hasExpect && !isDeepStrictEqual(r, expected)) {
            fail(`reply ${JSON.stringify(r)}, expected ${JSON.stringify(expected)}`);
          }
          done();
        },
        (e) => {
          fail(describe(e));
          done();
        },
      );
    };
    for (let i = 0; i < Math.min(concurrency, n); i++) launch();
  });
}

await run(warmup);
firstError = null;
const start = process.hrtime.bigint();
const errors = await run(requests);
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
if (firstError !== null) process.stderr.write(`first error of ${errors}: ${firstError}\n`);

process.stdout.write(
  JSON.stringify({
    requests,
    seconds,
    rps: requests / seconds,
    errors,
    nest: nest.versions['@nestjs/microservices'],
  }) + '\n',
  () => {
    Promise.resolve(client.close())
      .catch(() => {})
      .finally(() => process.exit(0));
  },
);
