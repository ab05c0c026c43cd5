#!/usr/bin/env node
// Calls a traced server (the Go interop test's, under otelrpc.Middleware)
// with a REAL NestJS 12 ClientProxy (TCP) whose dispatch hook puts W3C
// trace context in every packet's metadata, as OpenTelemetry
// instrumentation of a NestJS 12 client does.
//
// usage: node trace-client.mjs --nest 12 [--host 127.0.0.1] --port N
//          --traceparent T [--tracestate S]
//
// With the hook ({traceparent: T, tracestate: S}, tracestate only when
// given): send("relay", {}), send("ticks", {}) as an array, emit("traced-evt",
// {n: 1}); then with the hook removed: send("relay", {}) again (no trace
// context: the server starts a trace of its own).
//
// stdout: one JSON line per call, as client.mjs prints them, with the
// scenarios "send", "stream", "emit", "untraced":
//   {"scenario":"<name>","ok":<no error>,"result":<value or null>,"error":<value or null>}
// The Go test checks the results and the spans. Exit 0 after all calls; 1
// if the packages cannot be loaded; 2 for bad arguments, or a major without
// ClientProxy.setOnDispatchHook (before 12).
import { parseCli, loadNest } from './cli.mjs';
import { scenarioKit, runScenarios, closeAndExit } from './scenarios.mjs';

const { args, port, usage } = parseCli('trace-client.mjs', '--port N --traceparent T [--tracestate S]', {
  traceparent: { type: 'string' },
  tracestate: { type: 'string' },
});
if (!args.traceparent) usage('--traceparent is required');

const nest = await loadNest(args.nest);
const { ClientProxyFactory, Transport } = nest.microservices;
const { firstValueFrom, lastValueFrom, toArray } = nest.rxjs;
const { withTimeout, errorValue } = scenarioKit(nest);

const client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: args.host, port } });
if (typeof client.setOnDispatchHook !== 'function') usage(`NestJS ${args.nest} has no ClientProxy.setOnDispatchHook (NestJS 12 has)`);

const carrier = { traceparent: args.traceparent };
if (args.tracestate) carrier.tracestate = args.tracestate;
client.setOnDispatchHook((packet) => {
  packet.metadata = { ...packet.metadata, ...carrier };
});

// No expectations: ok means the call did not fail.
const scenarios = [
  ['send', undefined, () => firstValueFrom(withTimeout(client.send('relay', {})))],
  ['stream', undefined, () => lastValueFrom(withTimeout(client.send('ticks', {})).pipe(toArray()))],
  ['emit', undefined, () => lastValueFrom(withTimeout(client.emit('traced-evt', { n: 1 })), { defaultValue: null })],
  [
    'untraced',
    undefined,
    () => {
      client.setOnDispatchHook(undefined);
      return firstValueFrom(withTimeout(client.send('relay', {})));
    },
  ],
];
await runScenarios(scenarios, { errorValue });
await closeAndExit(client);
