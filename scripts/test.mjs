#!/usr/bin/env node
// `npm test`: install the system packages the tests need (as root; otherwise say what is missing), build, and run
// every test under node's test runner. Extra arguments are passed to `node --test` (e.g. a single test file).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const run = (cmd, args, opts = {}) => spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...opts }).status ?? 1;

const packages = run('bash', [path.join(root, 'scripts/ensure-system-packages.sh'), 'test']);
if (packages !== 0) {
  console.error('npm test: the system packages the tests need are missing (see above); run `npm test` as root to install them.');
  process.exit(packages);
}
// tsc never deletes what it compiled from a source that is gone: a stale compiled test would still run.
rmSync(path.join(root, 'dist/test'), { recursive: true, force: true });
rmSync(path.join(root, 'dist/.tsbuildinfo'), { force: true });
if (run(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', '.']) !== 0) {
  console.error('npm test: the TypeScript build failed.');
  process.exit(1);
}
if (run(process.execPath, [path.join(root, 'scripts/build-forker.mjs'), '--werror']) !== 0) {
  console.error('npm test: native/persona-forker.c did not compile.');
  process.exit(1);
}
// Only *.test.js files are tests: node 20 would also run every other .js file under a folder named test (helpers,
// the child programs crash tests start), so the list is made here.
import { readdirSync, rmSync } from 'node:fs';
const testFiles = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? testFiles(path.join(dir, e.name)) : e.name.endsWith('.test.js') ? [path.join(dir, e.name)] : [],
  );
const extra = process.argv.slice(2);
const targets = extra.length ? extra : testFiles(path.join(root, 'dist/test')).sort();
process.exit(run(process.execPath, ['--test', '--test-timeout=120000', ...targets]));
