#!/usr/bin/env node
// Drives a NATS service implementing the interop "demo contract" (plus the
// "meta" pattern and "meta-evt" event, below) with a REAL NestJS ClientProxy
// (Transport.NATS) of the chosen major, through the NATS server at --url.
//
// usage: node nats-client.mjs --nest 11|12 [--url nats://127.0.0.1:4222] [--only a,b]
//
// stdout: one JSON line per scenario, in a fixed order, as client.mjs prints
// them: {"scenario":"<name>","ok":true|false,"result":<value or null>,"error":<value or null>}
// Exit 0 after all scenarios, whatever their outcome; 1 if the packages
// cannot be loaded or the client cannot connect to NATS; 2 for bad arguments.
//
// "meta" must reply {"metadata": <the request's NestJS 12 metadata or null>,
// "xTrace": <the values of its NATS header "x-trace", or null>}; "meta-evt"
// is an event (the Go test checks what its handler saw). With --nest 12 the
// client's dispatch hook puts metadata {"traceparent": TRACEPARENT} on the
// "metadata" scenario's request and event; NestJS 11 has no such hook and
// sends none.
import { parseNatsCli, loadNest } from './cli.mjs';
import { NO_DATA, UNICODE, scenarioKit, runScenarios, closeAndExit } from './scenarios.mjs';

const { args } = parseNatsCli('nats-client.mjs', '[--only a,b]', { only: { type: 'string' } });
const nest = await loadNest(args.nest);
const { ClientProxyFactory, Transport } = nest.microservices;
// Nest's logger writes its LOG lines (v12's ClientNats logs status changes)
// to stdout, which is for results only: errors alone, on stderr.
nest.common.Logger.overrideLogger(['error']);
const { firstValueFrom, lastValueFrom, toArray } = nest.rxjs;
const { withTimeout, errorValue } = scenarioKit(nest);

const MAX_PAYLOAD = 1 << 20; // the NATS server's default max_payload
const TRACEPARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

const newClient = (extra = {}) =>
  ClientProxyFactory.create({
    transport: Transport.NATS,
    options: { servers: args.url, name: `nest${args.nest}-nats-client`, ...extra },
  });
const client = newClient();
try {
  await client.connect();
} catch (e) {
  process.stderr.write(`cannot connect to ${args.url}: ${e.stack || e}\n`);
  process.exit(1);
}

const sendVia = (c, pattern, data) => firstValueFrom(withTimeout(c.send(pattern, data)));
const send = (pattern, data) => sendVia(client, pattern, data);
const emitEvent = (pattern, data) =>
  lastValueFrom(withTimeout(client.emit(pattern, data)), { defaultValue: undefined });

const scenarios = [
  ['string-pattern', { result: 6 }, () => send('sum', [1, 2, 3])],
  ['number-pattern', { result: 'forty-two' }, () => send(42, NO_DATA)],
  ['object-pattern', { result: 'sum2:3' }, () => send({ role: 'math', cmd: 'sum2' }, [1, 2])],
  ['object-pattern-nested', { result: 'nested-ok' }, () => send({ cmd: 'nested', opts: { z: 1, a: 'x' } }, 1)],
  ['cmd-convenience', { result: 9 }, () => send({ cmd: 'sum' }, [4, 5])],
  ['unicode', { result: UNICODE }, () => send('echo', UNICODE)],
  [
    'concurrent-200',
    { result: { count: 200, allCorrect: true } },
    async () => {
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => send('sum', [i, i])));
      return { count: results.length, allCorrect: results.every((r, i) => r === 2 * i) };
    },
  ],
  [
    'event',
    { result: [{ n: 1 }, { n: 2 }] },
    async () => {
      await emitEvent('evt', { n: 1 });
      await emitEvent({ cmd: 'evt' }, { n: 2 });
      // The two events travel on two subjects (two subscriptions): they may
      // be handled in either order, and after a later request. Poll.
      const got = [];
      for (const deadline = Date.now() + 5000; got.length < 2 && Date.now() < deadline; ) {
        got.push(...(await send('events', NO_DATA)));
        if (got.length < 2) await new Promise((r) => setTimeout(r, 20));
      }
      return got.sort((a, b) => a.n - b.n);
    },
  ],
  ['stream', { result: [1, 2, 3] }, () => lastValueFrom(withTimeout(client.send('stream3', NO_DATA)).pipe(toArray()))],
  ['rpc-error-string', { error: { status: 'error', message: 'bad input' } }, () => send('fail', NO_DATA)],
  ['rpc-error-object', { error: { status: 400, message: 'bad' } }, () => send('failobj', NO_DATA)],
  ['plain-error', { error: { status: 'error', message: 'Internal server error' } }, () => send('boom', NO_DATA)],
  [
    // Nobody subscribes to "nope": the NATS server answers "no responders"
    // (an empty message), which the client turns into EmptyResponseException
    // at once.
    'unknown-pattern',
    {
      result: {
        error: {
          jsError: 'EmptyResponseException',
          message: 'Empty response. There are no subscribers listening to that message ("nope")',
        },
        fast: true,
      },
    },
    async () => {
      const start = Date.now();
      try {
        return { result: await send('nope', NO_DATA) };
      } catch (e) {
        return { error: errorValue(e), fast: Date.now() - start < 2000 };
      }
    },
  ],
  [
    // A request that fits the NATS server's max_payload (1 MiB by default)
    // whose reply would not: the server must answer with an error rather
    // than leave the caller waiting. The request body is the data plus 57
    // bytes (a 21-character id), the reply the data plus 62.
    'reply-too-large',
    { result: { status: 'error', mentionsMaxPayload: true, fast: true } },
    async () => {
      const start = Date.now();
      try {
        await send('echo', 'x'.repeat(MAX_PAYLOAD - 57 - 2));
        return 'REPLIED';
      } catch (e) {
        const err = errorValue(e);
        return { status: err?.status, mentionsMaxPayload: /max_payload/.test(err?.message), fast: Date.now() - start < 2000 };
      }
    },
  ],
  [
    // NATS headers: a client whose options.headers go on every message.
    'headers',
    { result: { metadata: null, xTrace: ['abc'] } },
    async () => {
      const c = newClient({ headers: { 'x-trace': 'abc' } });
      try {
        return await sendVia(c, 'meta', NO_DATA);
      } finally {
        await c.close();
      }
    },
  ],
  [
    'metadata',
    { result: { metadata: args.nest === '12' ? { traceparent: TRACEPARENT } : null, xTrace: null } },
    async () => {
      const hook = typeof client.setOnDispatchHook === 'function';
      if (hook) client.setOnDispatchHook((packet) => (packet.metadata = { traceparent: TRACEPARENT }));
      try {
        const reply = await send('meta', NO_DATA);
        await emitEvent('meta-evt', { n: 3 });
        return reply;
      } finally {
        if (hook) client.setOnDispatchHook(undefined);
      }
    },
  ],
  ['after-errors', { result: 1 }, () => send('sum', [1])],
];

await runScenarios(scenarios, { only: args.only ?? process.env.NEST_CLIENT_ONLY, errorValue });
await closeAndExit(client);
