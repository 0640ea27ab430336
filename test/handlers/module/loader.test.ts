/**
 * Loading handler modules: once per generation, the start hook awaited once before any request and run as the
 * process identity (not the identity of the flow that triggered the load), failures as values with their reason,
 * reported once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadHandlerModule, type LoadedModule } from '../../../src/handlers/module/loader.js';
import { currentIdentity, runAs } from '../../../src/handlers/module/identity-context.js';
import type { HandlerContext } from '../../../src/handlers/module/contract.js';
import { iusrToken, processIdentityToken } from '../../../src/security/process-identity.js';

// Fixtures are .mjs files in the source tree (not compiled), reached from dist/test/… through the repository root.
const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../test/handlers/module/fixtures');
const fixture = (name: string) => path.join(FIXTURES, name);

const pool = processIdentityToken('DefaultAppPool', 'www-data');
const self = { token: pool, reason: 'start' };
/** A context reading the async context's identity, as the real one does. */
const persona = { identity: () => currentIdentity() ?? assert.fail('no identity in the async context') } as unknown as HandlerContext;

function options(failures: string[] = []) {
  return {
    runStart: async (start: (p: HandlerContext) => unknown) => runAs(self, () => start(persona)),
    onFailure: (_file: string, reason: string) => failures.push(reason),
  };
}

interface Record {
  starts: string[];
}
const records = (): Record[] => ((globalThis as { __personaCountedStart?: Record[] }).__personaCountedStart ??= []);
const recordOf = (loaded: LoadedModule): Record => {
  assert.ok(loaded.ok, loaded.ok ? '' : loaded.reason);
  return loaded.module.handle(undefined as never, undefined as never, persona) as Record;
};

test('concurrent first requests share one import and one start, which runs as the process identity, not the requester', async () => {
  const before = records().length;
  const generation = {};
  const loads = await runAs({ token: iusrToken('ClearText'), reason: 'the first request' }, () =>
    Promise.all([1, 2, 3].map(() => loadHandlerModule(generation, fixture('counted-start.mjs'), options()))),
  );
  assert.equal(records().length, before + 1, 'imported once');
  const record = recordOf(loads[0]!);
  for (const l of loads) assert.equal(recordOf(l), record);
  assert.deepEqual(record.starts, ['IIS APPPOOL\\DefaultAppPool']);
  // Later requests get the started module without starting it again.
  assert.equal(recordOf(await loadHandlerModule(generation, fixture('counted-start.mjs'), options())), record);
  assert.deepEqual(record.starts, ['IIS APPPOOL\\DefaultAppPool']);
});

test('a new generation imports the module again (a fresh instance) and starts it again', async () => {
  const a = recordOf(await loadHandlerModule({}, fixture('counted-start.mjs'), options()));
  const b = recordOf(await loadHandlerModule({}, fixture('counted-start.mjs'), options()));
  assert.notEqual(a, b);
  assert.equal(a.starts.length, 1);
  assert.equal(b.starts.length, 1);
});

test('a module without a default export function: a reason, reported once however many requests ask', async () => {
  const failures: string[] = [];
  const generation = {};
  const [one, two] = await Promise.all([loadHandlerModule(generation, fixture('no-default.mjs'), options(failures)), loadHandlerModule(generation, fixture('no-default.mjs'), options(failures))]);
  assert.ok(!one!.ok && !two!.ok);
  assert.match(one.reason, /no-default\.mjs has no default export function/);
  assert.equal(failures.length, 1);
});

test('a start hook that throws: every request gets its reason; it is not retried per request', async () => {
  const failures: string[] = [];
  const generation = {};
  const first = await loadHandlerModule(generation, fixture('bad-start.mjs'), options(failures));
  const second = await loadHandlerModule(generation, fixture('bad-start.mjs'), options(failures));
  assert.ok(!first.ok && !second.ok);
  assert.match(first.reason, /bad-start\.mjs: start\(\) failed: cannot open the cache/);
  assert.equal(second.reason, first.reason);
  assert.equal(failures.length, 1);
});

test('a module that cannot be imported: the reason names the file', async () => {
  const r = await loadHandlerModule({}, fixture('missing.mjs'), options());
  assert.ok(!r.ok);
  assert.match(r.reason, /missing\.mjs cannot be loaded/);
});
