// What the scenario scripts share (client.mjs over TCP, nats-client.mjs
// over NATS, trace-client.mjs): the timeouts, the way an error is reported,
// running the scenarios with one JSON line each on stdout, and the exit.
import { isDeepStrictEqual } from 'node:util';

export const TIMEOUT_MS = 10_000;

// A Nest ClientProxy rejects null/undefined data locally (InvalidMessageException,
// nothing goes on the wire), so requests whose data does not matter send {}.
export const NO_DATA = {};

// 2-, 3- and 4-byte UTF-8, U+2028 (which JSON.stringify leaves raw), HTML
// characters, a quote and a backslash.
export const UNICODE = 'héllo 😀 ✓ \u2028 <&> "q" \\ end';

class ScenarioTimeout extends Error {}

// scenarioKit returns, for the rxjs of `nest`, withTimeout (an observable
// that fails with a ScenarioTimeout when a value takes more than
// TIMEOUT_MS) and errorValue (what a scenario reports for a thrown e:
// "TIMEOUT" for a timeout, {jsError, message} for a JavaScript Error, else
// the value itself, the error the server sent).
export function scenarioKit(nest) {
  const { timeout, TimeoutError } = nest.rxjs;
  const withTimeout = (obs) =>
    obs.pipe(
      timeout({
        first: TIMEOUT_MS,
        each: TIMEOUT_MS,
        with: () => {
          throw new ScenarioTimeout();
        },
      }),
    );
  const errorValue = (e) => {
    if (e instanceof ScenarioTimeout || (TimeoutError && e instanceof TimeoutError)) return 'TIMEOUT';
    if (e instanceof Error) return { jsError: e.constructor?.name || 'Error', message: e.message };
    return e === undefined ? null : e;
  };
  return { withTimeout, errorValue };
}

// runScenarios runs each [name, expect, run] of scenarios in order (only
// those named in `only`, comma-separated, when it is set) and prints one
// JSON line each:
//   {"scenario":"<name>","ok":true|false,"result":<value or null>,"error":<value or null>}
// run returns the result or throws (errorValue(e) is the error); `expect`
// is {result: v} or {error: v}, compared by deep equality on the JSON
// values; with no `expect`, ok means that run did not throw.
export async function runScenarios(scenarios, { only, errorValue }) {
  for (const [name, expect, run] of scenarios) {
    if (only && !only.split(',').includes(name)) continue;
    let line;
    try {
      const value = await run();
      const result = value === undefined ? null : value;
      const ok = expect === undefined || ('result' in expect && isDeepStrictEqual(result, expect.result));
      line = { scenario: name, ok, result, error: null };
    } catch (e) {
      const error = errorValue(e);
      const ok = expect !== undefined && 'error' in expect && isDeepStrictEqual(error, expect.error);
      line = { scenario: name, ok, result: null, error };
    }
    process.stdout.write(JSON.stringify(line) + '\n');
  }
}

// closeAndExit closes client, then exits 0 once stdout is flushed, even if
// some handle lingers.
export async function closeAndExit(client) {
  try {
    await client.close();
  } catch (e) {
    process.stderr.write(`client.close() failed: ${e.stack || e}\n`);
  }
  process.stdout.write('', () => process.exit(0));
}
