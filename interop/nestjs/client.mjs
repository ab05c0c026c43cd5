#!/usr/bin/env node
// Drives a server that implements the interop "demo contract" with a REAL
// NestJS ClientProxy (TCP transport) of the chosen major.
//
// usage: node client.mjs --nest 10|11|12 [--host 127.0.0.1] --port N
//          [--tls-ca ca.pem [--tls-cert cert.pem --tls-key key.pem]] [--only a,b]
//
// --tls-ca turns TLS on: the ClientProxy gets `tlsOptions: {ca}` and verifies
// the server against that CA (for an IP --host, against the certificate's IP
// SANs). --tls-cert and --tls-key (both or neither, only with --tls-ca) add a
// client certificate for mutual TLS. --only runs only the named scenarios
// (as the env var NEST_CLIENT_ONLY does; the flag wins).
//
// stdout: one JSON line per scenario, in a fixed order,
//   {"scenario":"<name>","ok":true|false,"result":<value or null>,"error":<value or null>}
// `error` is the raw value the Nest client surfaced (for a server `err`, the
// JSON value itself), "TIMEOUT" when the scenario's 10 s timeout fired, or
// {"jsError":"<class>","message":"<text>"} for a JavaScript Error thrown by the
// client itself (e.g. ECONNREFUSED, "Connection closed").
// Exit 0 after all scenarios, whatever their outcome; exit 1 only if the
// harness itself broke (packages not loadable, an unexpected exception).
import { parseCli, loadNest } from './cli.mjs';
import { NO_DATA, UNICODE, scenarioKit, runScenarios, closeAndExit } from './scenarios.mjs';
import { readFileSync } from 'node:fs';

const { args, port, usage } = parseCli(
  'client.mjs',
  '--port N [--tls-ca ca.pem [--tls-cert cert.pem --tls-key key.pem]] [--only a,b]',
  {
    'tls-ca': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    only: { type: 'string' },
  },
);
const host = args.host;
if ((args['tls-cert'] === undefined) !== (args['tls-key'] === undefined)) {
  usage('--tls-cert and --tls-key go together');
}
if (args['tls-cert'] !== undefined && args['tls-ca'] === undefined) usage('--tls-cert needs --tls-ca');

// TLS options for the ClientProxy, or undefined for plain TCP. Every major
// (10, 11, 12) hands them to tls.connect({...tlsOptions, port, host}) as
// they are, with no servername: Node.js then checks the server's
// certificate against `host` (an IP SAN for 127.0.0.1) and sends no SNI.
let tlsOptions;
if (args['tls-ca'] !== undefined) {
  const read = (flag) => {
    try {
      return readFileSync(args[flag]);
    } catch (e) {
      return usage(`--${flag}: ${e.message}`);
    }
  };
  tlsOptions = { ca: read('tls-ca') };
  if (args['tls-cert'] !== undefined) {
    tlsOptions.cert = read('tls-cert');
    tlsOptions.key = read('tls-key');
  }
}

const nest = await loadNest(args.nest);
const { ClientProxyFactory, Transport } = nest.microservices;
const { firstValueFrom, lastValueFrom, toArray } = nest.rxjs;
const { withTimeout, errorValue } = scenarioKit(nest);

// ~1 MiB (UTF-16 units) of ASCII, 2- and 3-byte UTF-8 and astral characters;
// built from whole chunks so no surrogate pair is ever split.
function largeString() {
  const chunk = 'ascii 0123456789 abcdefghij é ü ß ñ ✓ € 日本語 😀 🚀 𝄞 <&> "q" \\ \n';
  let s = '';
  while (s.length < 1 << 20) s += chunk;
  return s;
}

const client = ClientProxyFactory.create({
  transport: Transport.TCP,
  options: tlsOptions ? { host, port, tlsOptions } : { host, port },
});

const send = (pattern, data) => firstValueFrom(withTimeout(client.send(pattern, data)));

// Each scenario returns {result} or throws; `expect` is either
// {result: v} or {error: v}; comparison is deep equality on the JSON values.
const scenarios = [
  ['string-pattern', { result: 6 }, () => send('sum', [1, 2, 3])],
  ['number-pattern', { result: 'forty-two' }, () => send(42, NO_DATA)],
  ['object-pattern', { result: 'sum2:3' }, () => send({ role: 'math', cmd: 'sum2' }, [1, 2])],
  [
    'object-pattern-nested',
    { result: 'nested-ok' },
    () => send({ cmd: 'nested', opts: { z: 1, a: 'x' } }, 1),
  ],
  ['cmd-convenience', { result: 9 }, () => send({ cmd: 'sum' }, [4, 5])],
  ['unicode', { result: UNICODE }, () => send('echo', UNICODE)],
  [
    'large-payload',
    { result: { length: largeString().length, equal: true } },
    async () => {
      const s = largeString();
      const r = await send('echo', s);
      return { length: s.length, equal: r === s };
    },
  ],
  [
    'concurrent-500',
    { result: { count: 500, allCorrect: true } },
    async () => {
      const n = 500;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) => send('sum', [i, i])),
      );
      return { count: results.length, allCorrect: results.every((r, i) => r === 2 * i) };
    },
  ],
  [
    'event',
    { result: [{ n: 1 }, { n: 2 }] },
    async () => {
      // emit() is hot: the packet is written even without a subscriber; waiting
      // for completion just makes sure both are on the socket, in order.
      await lastValueFrom(withTimeout(client.emit('evt', { n: 1 })), { defaultValue: undefined });
      await lastValueFrom(withTimeout(client.emit({ cmd: 'evt' }, { n: 2 })), {
        defaultValue: undefined,
      });
      await new Promise((r) => setTimeout(r, 200));
      return send('events', NO_DATA);
    },
  ],
  [
    'stream',
    { result: [1, 2, 3] },
    () => lastValueFrom(withTimeout(client.send('stream3', NO_DATA)).pipe(toArray())),
  ],
  [
    'rpc-error-string',
    { error: { status: 'error', message: 'bad input' } },
    () => send('fail', NO_DATA),
  ],
  ['rpc-error-object', { error: { status: 400, message: 'bad' } }, () => send('failobj', NO_DATA)],
  [
    'plain-error',
    { error: { status: 'error', message: 'Internal server error' } },
    () => send('boom', NO_DATA),
  ],
  [
    'unknown-pattern',
    { error: 'There is no matching message handler defined in the remote service.' },
    () => send('nope', NO_DATA),
  ],
  ['after-errors', { result: 1 }, () => send('sum', [1])],
];

// Comma-separated scenario names: --only, else env NEST_CLIENT_ONLY (a debugging aid).
await runScenarios(scenarios, { only: args.only ?? process.env.NEST_CLIENT_ONLY, errorValue });
await closeAndExit(client);
