// Feeds byte streams to the JsonSocket of a NestJS major (the parser of its
// TCP transport) and prints the frames it finds: the differential oracle of
// the framing tests (interop/framing_test.go).
//
//   node framing.mjs <major> < cases.json
//
// cases.json is [[chunk, chunk…], …], each chunk the hex of the bytes of one
// read. Output is one JSON array, per case {frames, error}: each frame the
// hex of its UTF-16 code units (the string NestJS hands to JSON.parse, which
// is replaced here by a recorder), error the message of the error that made
// JsonSocket close the connection, or null.
import { createRequire } from 'node:module';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const major = process.argv[2];
const dir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'v' + major);
const require = createRequire(path.join(dir, 'package.json'));
const entry = require.resolve('@nestjs/microservices/helpers/json-socket.js');
const { JsonSocket } = major === '12' ? await import(entry) : require(entry);

const hexUnits = (s) => {
  let out = '';
  for (let i = 0; i < s.length; i++) out += s.charCodeAt(i).toString(16).padStart(4, '0');
  return out;
};

const cases = JSON.parse(readFileSync(0, 'utf8'));
const results = [];
for (const chunks of cases) {
  const sock = new EventEmitter();
  let closed = false;
  let error = null;
  sock.write = () => true;
  sock.end = () => { closed = true; };
  sock.destroy = () => { closed = true; };
  sock.pause = sock.resume = () => {};
  sock.writableLength = 0;
  sock.on('error', (e) => { error ??= String(e); });
  const js = new JsonSocket(sock, { incompleteMessageTimeout: 0 });
  const frames = [];
  js.emitMessage = (s) => frames.push(hexUnits(s));
  for (const c of chunks) {
    if (closed) break;
    sock.emit('data', Buffer.from(c, 'hex'));
  }
  results.push({ frames, error });
}
process.stdout.write(JSON.stringify(results));
