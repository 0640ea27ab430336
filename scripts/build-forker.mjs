#!/usr/bin/env node
// Compiles the forker (native/persona-forker.c) into dist/libexec/persona-forker: the root process that starts
// processes as OS accounts for a pool's worker. Run at install and build (the C toolchain is already needed at
// `npm ci`: better-sqlite3 is built from source). `--out PATH` writes elsewhere (tests with a private build folder);
// $CC picks another compiler.
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const source = path.join(root, 'native', 'persona-forker.c');

// Hardened as a root daemon that parses a worker's bytes should be. -Werror only with --werror (npm test, CI): a
// newer compiler's new warning must not make `npm install` fail on a user's machine.
const FLAGS = ['-std=c11', '-O2', '-Wall', '-Wextra', '-D_FORTIFY_SOURCE=2', '-fstack-protector-strong', '-fPIE', '-pie'];

function parseArgs(argv) {
  let out = path.join(root, 'dist', 'libexec', 'persona-forker');
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--werror') FLAGS.push('-Werror');
    else if (argv[i] === '--out' && argv[i + 1]) out = path.resolve(argv[++i]);
    else {
      console.error('build-forker: usage: node scripts/build-forker.mjs [--werror] [--out PATH]');
      process.exit(2);
    }
  }
  return out;
}

const out = parseArgs(process.argv.slice(2));
if (process.platform !== 'linux') {
  console.error(`build-forker: skipped on ${process.platform}: Persona's forker needs Linux (clone, signalfd, SO_PEERCRED)`);
  process.exit(0);
}
const cc = process.env.CC || 'cc';
const probe = spawnSync(cc, ['--version'], { stdio: 'ignore' });
if (probe.error || probe.status !== 0) {
  console.error(`build-forker: no C compiler (${cc}): install build-essential (Debian/Ubuntu: apt-get install build-essential), as better-sqlite3 needs too`);
  process.exit(1);
}
mkdirSync(path.dirname(out), { recursive: true });
// Compiled beside the target and renamed over it: a running forker keeps its binary, the next start gets the new one.
const temporary = `${out}.${process.pid}.tmp`;
const result = spawnSync(cc, [...FLAGS, '-o', temporary, source], { stdio: 'inherit' });
if (result.error || result.status !== 0) {
  rmSync(temporary, { force: true });
  console.error(`build-forker: ${cc} failed to compile ${path.relative(root, source)}${result.error ? ` (${result.error.message})` : ''}`);
  process.exit(1);
}
renameSync(temporary, out);
console.log(`build-forker: built ${out}`);
