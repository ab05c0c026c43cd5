// Shared by client.mjs, server.mjs, bench.mjs, nats-client.mjs, nats-server.mjs,
// trace-client.mjs (and bench/nestjs/one-pattern.mjs): the common flags --nest, --host, --port
// (--nest, --url for the NATS scripts), and loading the chosen NestJS major
// from its own folder (v10/, v11/, v12/; see README.md for why one per major).
import { parseArgs } from 'node:util';

// Plain, uncoloured Nest log lines on stderr unless the caller asks otherwise.
process.env.NO_COLOR ??= '1';

// parseCli parses the command line of `script`: --nest, --host, --port plus
// `options` (node:util parseArgs options). `usageTail` follows the common
// flags in the usage line. With anyPort, --port defaults to 0 (the OS picks);
// otherwise it is required. Bad arguments print the usage and exit 2.
export function parseCli(script, usageTail, options = {}, { anyPort = false } = {}) {
  const { args, usage } = parse(`${script} --nest 10|11|12 [--host 127.0.0.1] ${usageTail}`, {
    nest: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    port: anyPort ? { type: 'string', default: '0' } : { type: 'string' },
    ...options,
  });
  if (!['10', '11', '12'].includes(args.nest)) usage('--nest must be 10, 11 or 12');
  const port = Number(args.port);
  const minPort = anyPort ? 0 : 1;
  if (!Number.isInteger(port) || port < minPort || port > 65535) usage(`--port must be ${minPort}..65535`);
  return { args, port, usage };
}

// natsMajors are the NestJS majors whose folders pin a NATS client package
// (v11: nats 2.29.3; v12: @nats-io/transport-node 3.4.0).
export const natsMajors = ['11', '12'];

// parseNatsCli parses the command line of a NATS script: --nest 11|12 and
// --url (the NATS server; default nats://127.0.0.1:4222) plus `options`.
// Bad arguments print the usage and exit 2.
export function parseNatsCli(script, usageTail, options = {}) {
  const { args, usage } = parse(`${script} --nest 11|12 [--url nats://127.0.0.1:4222] ${usageTail}`, {
    nest: { type: 'string' },
    url: { type: 'string', default: 'nats://127.0.0.1:4222' },
    ...options,
  });
  if (!natsMajors.includes(args.nest)) usage('--nest must be 11 or 12 (v10/ pins no NATS package)');
  if (args.url === '') usage('--url must not be empty');
  return { args, usage };
}

// parse parses the command line with `options` (node:util parseArgs
// options) and returns the values as args, and usage(msg), which prints msg
// and the usage line `node ${usageLine}` on stderr and exits 2, as bad
// arguments do.
function parse(usageLine, options) {
  const usage = (msg) => {
    process.stderr.write(`${msg}\nusage: node ${usageLine}\n`);
    process.exit(2);
  };
  try {
    return { args: parseArgs({ options }).values, usage };
  } catch (e) {
    return usage(e.message);
  }
}

// loadNest imports the packages of one NestJS major; it exits 1 when they are
// not installed.
export async function loadNest(major) {
  try {
    return await import(`./v${major}/nest.mjs`);
  } catch (e) {
    process.stderr.write(
      `cannot load NestJS ${major} from interop/nestjs/v${major} (did you run interop/nestjs/install.sh?): ${e.stack || e}\n`,
    );
    process.exit(1);
  }
}
