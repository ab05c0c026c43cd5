// Loads this folder's pinned NestJS packages (and the rxjs they use) so that
// ../client.mjs and ../server.mjs can `import()` one major at a time.
// Bare specifiers below resolve against THIS folder's node_modules, which is
// what keeps each major's @nestjs/microservices bound to its own core/common.
// The same file is copied into v10/, v11/ and v12/; keep the copies identical.
import 'reflect-metadata';
import * as commonNs from '@nestjs/common';
import * as coreNs from '@nestjs/core';
import * as microservicesNs from '@nestjs/microservices';
import * as rxjsNs from 'rxjs';
import { readFileSync } from 'node:fs';

// v10/v11 are CommonJS: use module.exports (the namespace's default) when the
// statically detected named exports are incomplete. v12 is ESM-only.
const pick = (ns, probe) => (probe in ns ? ns : ns.default);

export const common = pick(commonNs, 'Module');
export const core = pick(coreNs, 'NestFactory');
export const microservices = pick(microservicesNs, 'ClientProxyFactory');
export const rxjs = pick(rxjsNs, 'firstValueFrom');

// Read package.json from disk: v12's "exports" map does not expose it.
const versionOf = (name) => {
  try {
    const url = new URL(`./node_modules/${name}/package.json`, import.meta.url);
    return JSON.parse(readFileSync(url, 'utf8')).version;
  } catch {
    return 'unknown';
  }
};
export const versions = {
  '@nestjs/microservices': versionOf('@nestjs/microservices'),
  '@nestjs/core': versionOf('@nestjs/core'),
  '@nestjs/common': versionOf('@nestjs/common'),
  rxjs: versionOf('rxjs'),
};
