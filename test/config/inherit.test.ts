/**
 * Metabase inheritance as a property: for any chain of levels setting any subset of properties, every effective
 * value is the one set by the deepest level that sets it, else the built-in default, and its origin says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { inheritSettings, isUnder, type ConfigLevel } from '../../src/config/inherit.js';
import { BUILTIN_SETTINGS, type SettingsInput } from '../../src/config/schema.js';

const flagsArb = fc.subarray(['read', 'write', 'script', 'execute', 'source', 'browse'] as const);
const levelArb = fc.record(
  {
    accessFlags: flagsArb,
    maxUrl: fc.integer({ min: 1, max: 10_000 }),
    hidden: fc.array(fc.constantFrom('bin', '.git', 'secret'), { maxLength: 3 }),
    mime: fc.dictionary(fc.constantFrom('.a', '.b', '.c'), fc.constantFrom('text/a', 'text/b', '')),
  },
  { requiredKeys: [] },
);

function toSettings(l: { accessFlags?: readonly string[]; maxUrl?: number; hidden?: string[]; mime?: Record<string, string> }): SettingsInput {
  const s: Record<string, unknown> = {};
  if (l.accessFlags) s.accessFlags = [...l.accessFlags];
  if (l.maxUrl !== undefined || l.hidden) s.requestFiltering = { ...(l.maxUrl !== undefined ? { maxUrl: l.maxUrl } : {}), ...(l.hidden ? { hiddenSegments: l.hidden } : {}) };
  if (l.mime) s.staticContent = { mimeMap: l.mime };
  return s as SettingsInput;
}

test('the deepest level that sets a property wins; others inherit; origins name the level', () => {
  fc.assert(
    fc.property(fc.array(levelArb, { maxLength: 6 }), (levels) => {
      const chain: ConfigLevel[] = levels.map((l, i) => ({ kind: 'location', urlPath: `/l${i}`, label: `level ${i}`, settings: toSettings(l), yamlPath: ['x', i] }));
      const { settings, origins } = inheritSettings(chain, () => undefined);
      const deepest = <K extends keyof (typeof levels)[number]>(key: K) => {
        for (let i = levels.length - 1; i >= 0; i--) if (levels[i]![key] !== undefined) return i;
        return -1;
      };
      const f = deepest('accessFlags');
      assert.deepEqual(settings.accessFlags, f >= 0 ? levels[f]!.accessFlags : BUILTIN_SETTINGS.accessFlags);
      assert.equal(origins.get('accessFlags')?.level.label, f >= 0 ? `level ${f}` : 'built-in default');
      const u = deepest('maxUrl');
      assert.equal(settings.requestFiltering.maxUrl, u >= 0 ? levels[u]!.maxUrl : BUILTIN_SETTINGS.requestFiltering.maxUrl);
      const h = deepest('hidden');
      assert.deepEqual(settings.requestFiltering.hiddenSegments, h >= 0 ? levels[h]!.hidden : BUILTIN_SETTINGS.requestFiltering.hiddenSegments);
      // Sibling properties of a section are independent: setting maxUrl does not reset maxQueryString.
      assert.equal(settings.requestFiltering.maxQueryString, BUILTIN_SETTINGS.requestFiltering.maxQueryString);
      // Dictionaries inherit key by key.
      for (const ext of ['.a', '.b', '.c']) {
        let expected: string | undefined;
        let from = 'built-in default';
        levels.forEach((l, i) => {
          if (l.mime && ext in l.mime) {
            expected = l.mime[ext];
            from = `level ${i}`;
          }
        });
        assert.equal(settings.staticContent.mimeMap[ext], expected);
        if (expected !== undefined) assert.equal(origins.get(`staticContent.mimeMap.${ext}`)?.level.label, from);
      }
    }),
    { numRuns: 2000 },
  );
});

test('inheritance never mutates the built-in defaults or a level', () => {
  const before = JSON.stringify(BUILTIN_SETTINGS);
  const settings: SettingsInput = { requestFiltering: { hiddenSegments: ['x'] }, staticContent: { mimeMap: { '.q': 'text/q' } } };
  const frozen = JSON.stringify(settings);
  const a = inheritSettings([{ kind: 'site', urlPath: '/', label: 's', settings, yamlPath: [] }], () => undefined);
  a.settings.requestFiltering.hiddenSegments.push('mutated');
  a.settings.staticContent.mimeMap['.z'] = 'text/z';
  assert.equal(JSON.stringify(BUILTIN_SETTINGS), before);
  assert.equal(JSON.stringify(settings), frozen);
});

test('isUnder matches whole segments only', () => {
  assert.ok(isUnder('/app', '/app'));
  assert.ok(isUnder('/app/x', '/app'));
  assert.ok(isUnder('/app/', '/app'));
  assert.ok(!isUnder('/application', '/app'));
  assert.ok(isUnder('/anything', '/'));
});
