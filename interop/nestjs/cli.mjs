// Shared by client.mjs, server.mjs, bench.mjs (and bench/nestjs/sum-server.mjs):
// the common flags --nest, --host, --port, and loading the chosen NestJS major
// from its own folder (v10/, v11/, v12/; see README.md for why one per major).
import { parseArgs } from 'node:util';

// Plain, uncoloured Nest log lines on stderr unless the caller asks otherwise.
process.env.NO_COLOR ??= '1';

// parseCli parses the command line of `script`: --nest, --host, --port plus
// `options` (node:util parseArgs options). `usageTail` follows the common
// flags in the usage line. With anyPort, --port defaults to 0 (the OS picks);
// otherwise it is required. Bad arguments print the usage and exit 2.
export function parseCli(script, usageTail, options = {}, { anyPort = false } = {}) {
  const usage = (msg) => {
    process.stderr.write(`${msg}\nusage: node ${script} --nest 10|11|12 [--host 127.0.0.1] ${usageTail}\n`);
    process.exit(2);
  };
  let args;
  try {
    args = parseArgs({
      options: {
        nest: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        port: anyPort ? { type: 'string', default: '0' } : { type: 'string' },
        ...options,
      },
    }).values;
  } catch (e) {
    usage(e.message);
  }
  if (!['10', '11', '12'].includes(args.nest)) usage('--nest must be 10, 11 or 12');
  const port = Number(args.port);
  const minPort = anyPort ? 0 : 1;
  if (!Number.isInteger(port) || port < minPort || port > 65535) usage(`--port must be ${minPort}..65535`);
  return { args, port, usage };
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
