// Generates the golden files in this directory from the real NestJS code.
//
//   repo=$(git rev-parse --show-toplevel)   # run inside the repository
//   cd "$(mktemp -d)" && echo '{"type":"module"}' > package.json
//   npm install --ignore-scripts @nestjs/microservices@12.1.1 @nestjs/common@12 @nestjs/core@12 rxjs reflect-metadata
//   cp "$repo/pattern/testdata/gen.mjs" . && node gen.mjs "$repo/pattern/testdata"
//
// routes.txt:    <pattern as raw JSON text, JSON-quoted> TAB <route, JSON-quoted | ! | wtf8:HEX>
//                The route is what a Nest server computes on receiving the
//                pattern (Server#getPatternAsString, then getRouteFromPattern).
//                "!" means no route (null, true or false); wtf8: gives the
//                bytes of a route holding lone surrogates.
// numbers.txt:   <float64 bits, hex> TAB <String(x)>
// collation.txt: <JSON [a, b, sign of a.localeCompare(b)]>
//
// The generator is seeded, so output changes only with the Nest, Node or ICU version.
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Server } from '@nestjs/microservices/server/server.js';

const out = process.argv[2] ?? '.';
const server = Object.create(Server.prototype);
const receive = raw => server.getRouteFromPattern(server.getPatternAsString(JSON.parse(raw)));

// mulberry32: a small seeded generator, so the output is reproducible.
let seed = 12345;
const rnd = n => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
};
const pick = a => a[rnd(a.length)];
const chance = p => rnd(1000) < p * 1000;

const asciiChars = [...'abcdeABCDE0129_-. ', 'cmd', 'Cmd', 'x', 'z', 'Z', '"', '\\', '/'];
const otherChars = ['\u0000', '\u0001', '\t', '\n', 'é', 'É', 'e\u0301', 'ß', 'ø', 'ñ', 'ü', 'Ω', 'ж', '😀', '你', '\u00a0', '\u2028'];
const loneChars = ['\ud800', '\udc00'];
// Lone surrogates only in values: x/text orders them differently from ICU (see doc.go).
const randChar = lone => (chance(0.8) ? pick(asciiChars) : !lone || chance(0.9) ? pick(otherChars) : pick(loneChars));
const indexKeys = ['0', '1', '2', '10', '01', '-1', '4294967294', '4294967295', '1.5'];
const numberTexts = [
  '0', '-0', '42', '-7', '4.5', '4.50', '1e2', '1E+2', '1e-7', '1e-6', '0.000001', '1e21', '1e20',
  '123456789012345678901', '9007199254740993', '0.1', '1.5e300', '1e400', '-1e400', '1e-400',
  '5e-324', '1.7976931348623157e308', '100', '0.30000000000000004', '12345678.9',
];

function randString(maxLen, lone = true) {
  let s = '';
  for (let n = rnd(maxLen + 1); n > 0; n--) s += randChar(lone);
  return s;
}

// quote writes s as a JSON string, escaping at random what need not be.
function quote(s) {
  let q = '"';
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    const c = s[i];
    const lone = u >= 0xd800 && u <= 0xdfff;
    if (c === '"' || c === '\\') q += '\\' + c;
    else if (u < 0x20 || lone || chance(0.08)) {
      const hex = u.toString(16).padStart(4, '0');
      q += '\\u' + (chance(0.5) ? hex.toUpperCase() : hex);
    }
    else if (c === '/' && chance(0.5)) q += '\\/';
    else q += c;
  }
  return q + '"';
}

const ws = () => (chance(0.7) ? '' : pick([' ', '\n', '\t ', '\r\n  ']));

function randValue(depth) {
  const r = rnd(100);
  if (depth < 8 && r < 25) return randObject(depth + 1);
  if (depth < 8 && r < 33) return randArray(depth + 1);
  if (r < 60) return quote(randString(4));
  if (r < 85) return pick(numberTexts);
  return pick(['true', 'false', 'null']);
}

// Containers near the key limit get scalar members only, to keep texts short.
const leaf = () => (chance(0.5) ? quote(randString(2)) : pick(numberTexts));

function randObject(depth) {
  const big = chance(0.1);
  const n = big ? 19 + rnd(4) : rnd(4);
  const keys = [];
  for (let i = 0; i < n; i++) {
    keys.push(chance(0.15) ? pick(indexKeys) : randString(3, false));
    if (chance(0.05) && keys.length > 0) keys.push(pick(keys)); // duplicate key
  }
  return '{' + ws() + keys.map(k => quote(k) + ws() + ':' + ws() + (big ? leaf() : randValue(depth))).join(',' + ws()) + ws() + '}';
}

function randArray(depth) {
  const big = chance(0.1);
  const n = big ? 19 + rnd(4) : rnd(4);
  const items = [];
  for (let i = 0; i < n; i++) items.push(big ? leaf() : randValue(depth));
  return '[' + ws() + items.join(',' + ws()) + ws() + ']';
}

function deep(levels, leaf) {
  let s = leaf;
  for (let i = levels - 1; i >= 0; i--) s = chance(0.3) ? `[${s}]` : `{"${String.fromCharCode(97 + i)}":${s}}`;
  return s;
}

function randPattern() {
  const r = rnd(100);
  let text;
  if (r < 45) text = randObject(0);
  else if (r < 55) text = randArray(0);
  else if (r < 65) text = deep(4 + rnd(5), randValue(9));
  else if (r < 80) text = quote(randString(6));
  else if (r < 92) text = pick(numberTexts);
  else text = pick(['true', 'false', 'null']);
  // A client may also send the JSON text as a string pattern.
  if (chance(0.35)) text = quote(ws() + text + ws());
  return ws() + text + ws();
}

function wtf8(s) {
  const b = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0);
    if (cp < 0x80) b.push(cp);
    else if (cp < 0x800) b.push(0xc0 | (cp >> 6), 0x80 | (cp & 63));
    else if (cp < 0x10000) b.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
    else b.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 63), 0x80 | ((cp >> 6) & 63), 0x80 | (cp & 63));
  }
  return b.map(x => x.toString(16).padStart(2, '0')).join('');
}

const hasLone = s => /\p{Cs}/u.test(s);

const routes = [];
const seen = new Set();
const fixed = [
  '"sum"', '42', '"42"', '"\\"sum\\""', '"null"', '"true"', '"false"', 'null', 'true', 'false',
  '"4.50"', '" 42 "', '"[1,2]"', '"{\\"b\\":1,\\"a\\":2}"', '{"cmd":"sum"}', '"{ \\"role\\": \\"math\\", \\"cmd\\": \\"sum\\" }"',
  '1e400', '"1e400"', '{"a":1e400}', '"{\\"a\\":1e400}"', '"-0"', '-0', '""', '"  "', '" sum"', '"nul"', '"1 2"',
  '"\\ud83d\\ude00"', '"\\"\\ud83d\\\\ude00\\""', '"\\ud800"', '{"\\ud800":"\\udc00"}',
];
for (const t of fixed) {
  seen.add(t);
  routes.push(t);
}
while (routes.length < 1500) {
  const t = randPattern();
  if (t.length <= 500 && !seen.has(t)) {
    seen.add(t);
    routes.push(t);
  }
}
const routeLines = routes.map(t => {
  const r = receive(t);
  const want = typeof r !== 'string' ? '!' : hasLone(r) ? 'wtf8:' + wtf8(r) : JSON.stringify(r);
  return JSON.stringify(t) + '\t' + want;
});
writeFileSync(join(out, 'routes.txt'), routeLines.join('\n') + '\n');

const buf = new DataView(new ArrayBuffer(8));
const nums = [0, -0, 1, -1, 1e21, 1e-7, 1e-6, 9.999999999999999e20, 123456789012345680000, 5e-324,
  1.7976931348623157e308, 2 ** 53, 0.1, 0.2 + 0.1, 1 / 3, 100, 1.5e300, 123e-20, 2.5e-8, 1e100, Infinity, -Infinity];
while (nums.length < 1000) {
  const r = rnd(3);
  if (r === 0) {
    buf.setUint32(0, rnd(2 ** 31) * 2 + rnd(2));
    buf.setUint32(4, rnd(2 ** 31) * 2 + rnd(2));
    const x = buf.getFloat64(0);
    if (!Number.isNaN(x)) nums.push(x);
  } else if (r === 1) {
    nums.push((rnd(2000000) - 1000000) * 10 ** (rnd(60) - 30));
  } else {
    nums.push(rnd(1000000) / 10 ** rnd(12));
  }
}
const numberLines = nums.map(x => {
  buf.setFloat64(0, x);
  const hex = buf.getUint32(0).toString(16).padStart(8, '0') + buf.getUint32(4).toString(16).padStart(8, '0');
  return hex + '\t' + String(x);
});
writeFileSync(join(out, 'numbers.txt'), numberLines.join('\n') + '\n');

const collChars = [...asciiChars, ...otherChars];
const pairs = [];
while (pairs.length < 3000) {
  let a = '';
  let b = '';
  for (let n = 1 + rnd(4); n > 0; n--) a += pick(collChars);
  b = chance(0.5) ? a.slice(0, rnd(a.length)) + pick(collChars) + a.slice(rnd(a.length)) : pick(collChars) + pick(collChars);
  pairs.push(JSON.stringify([a, b, Math.sign(a.localeCompare(b))]));
}
writeFileSync(join(out, 'collation.txt'), pairs.join('\n') + '\n');
