#!/usr/bin/env node
// Checks the harness itself: Nest client of each major against the Nest
// server of each major (same major, plus a few cross pairs), expecting every
// scenario line of client.mjs to be ok:true.
//
// usage: node selftest.mjs [server:client ...]   e.g. node selftest.mjs 10:12 12:10
// default pairs: 10:10 11:11 12:12 10:12 12:10 11:10
import { spawn, execFile } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));
const SCENARIOS = 15;
const pairs = (process.argv.length > 2
  ? process.argv.slice(2)
  : ['10:10', '11:11', '12:12', '10:12', '12:10', '11:10']
).map((p) => p.split(':'));

async function startServer(major) {
  const child = spawn(process.execPath, [join(here, 'server.mjs'), '--nest', major, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout });
  const port = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('server did not print LISTENING in 20 s')), 20_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      const m = /^LISTENING (\d+)$/.exec(line);
      m ? resolve(Number(m[1])) : reject(new Error(`unexpected server line: ${line}`));
    });
    child.once('exit', (code) => reject(new Error(`server exited early (code ${code})`)));
  });
  return { child, port };
}

function runClient(major, port) {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(here, 'client.mjs'), '--nest', major, '--port', String(port)],
      { maxBuffer: 16 << 20, timeout: 300_000 },
      (err, stdout, stderr) => resolve({ code: err ? err.code ?? 1 : 0, stdout, stderr }),
    );
  });
}

let passed = 0;
let failed = 0;
for (const [serverMajor, clientMajor] of pairs) {
  const name = `server v${serverMajor} <- client v${clientMajor}`;
  let problems = [];
  let server;
  try {
    server = await startServer(serverMajor);
    const t0 = Date.now();
    const { code, stdout, stderr } = await runClient(clientMajor, server.port);
    const ms = Date.now() - t0;
    const lines = stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l));
    if (code !== 0) problems.push(`client exit code ${code}: ${stderr.trim()}`);
    if (lines.length !== SCENARIOS) problems.push(`expected ${SCENARIOS} lines, got ${lines.length}`);
    for (const l of lines) if (!l.ok) problems.push(JSON.stringify(l).slice(0, 500));
    console.log(`${problems.length ? 'FAIL' : 'ok  '} ${name} (${lines.length} scenarios, ${ms} ms)`);
  } catch (e) {
    problems.push(String(e.stack || e));
    console.log(`FAIL ${name}`);
  } finally {
    if (server) {
      server.child.kill('SIGTERM');
      const [code] = await once(server.child, 'exit');
      if (code !== 0) problems.push(`server exit code ${code} after SIGTERM`);
    }
  }
  for (const p of problems) console.log(`     ${p}`);
  problems.length ? failed++ : passed++;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
