import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { formatProblems, loadConfigFile, loadConfigText, type ConfigProblem, type LoadedConfig } from '../../src/config/load.js';
import { makeTree, VALID } from './tree.js';

function loaded(result: LoadedConfig | { problems: ConfigProblem[] }): LoadedConfig {
  if ('problems' in result) assert.fail(`expected a configuration, got:\n${formatProblems(result.problems)}`);
  return result;
}

function problems(result: LoadedConfig | { problems: ConfigProblem[] }): ConfigProblem[] {
  if (!('problems' in result)) assert.fail('expected problems, got a configuration');
  assert.ok(result.problems.length > 0);
  return result.problems;
}

/** `line:column message` per problem: what an operator reads, minus the file name. */
function brief(list: readonly ConfigProblem[]): string[] {
  return list.map((p) => `${p.line}:${p.column} ${p.message}`);
}

test('a valid configuration loads, with every relative path made absolute against its folder', (t) => {
  const tree = makeTree(t);
  const config = loaded(loadConfigText(VALID, tree.file));
  const at = (relative: string): string => join(tree.dir, relative);
  assert.equal(config.file, tree.file);
  assert.equal(config.directory, tree.dir);
  assert.equal(config.text, VALID);
  const site = config.input.sites[0];
  assert.ok(site);
  assert.equal(site.name, 'Default');
  assert.equal(site.physicalPath, at('www'));
  assert.deepEqual(site.tls, { certificate: at('tls/cert.pem'), key: at('tls/key.pem') });
  assert.deepEqual(site.bindings, [
    { protocol: 'http', ip: '*', port: 8080 },
    { protocol: 'https', ip: '127.0.0.1', port: 8443, host: 'www.example.com' },
  ]);
  assert.equal(site.applications?.[0]?.physicalPath, at('app'));
  assert.equal(site.applications?.[0]?.virtualDirectories?.[0]?.physicalPath, at('shared'));
  assert.equal(site.virtualDirectories?.[0]?.physicalPath, at('shared'));
  assert.deepEqual(config.input.defaults?.httpErrors?.pages, { '404': at('errors/404.html') });
  // `404.10` is substatus 10: the key keeps its text instead of becoming the float 404.1.
  assert.deepEqual(site.locations?.[0]?.settings.httpErrors?.pages, { '404.10': at('errors/404.html') });
  assert.equal(config.input.server?.logging?.directory, at('logs'));
  assert.equal(config.input.server?.filters?.[0]?.module, at('filters/audit.js'));
  assert.deepEqual(config.input.defaults?.accessFlags, ['read']);
});

test('positionOf points at nested values, in block and flow style, 1-based', (t) => {
  const tree = makeTree(t);
  const config = loaded(loadConfigText(VALID, tree.file));
  const position = (...path: (string | number)[]): string | undefined => {
    const p = config.positionOf(path);
    return p && `${p.file === tree.file ? '' : p.file}${p.line}:${p.column}`;
  };
  assert.equal(position('sites', 0, 'bindings', 0, 'port'), '20:15');
  assert.equal(position('sites', 0, 'bindings', 1, 'port'), '21:49');
  assert.equal(position('sites', 0, 'bindings', 1, 'host'), '21:61');
  assert.equal(position('sites', 0, 'bindings', 1), '21:9');
  assert.equal(position('defaults', 'httpErrors', 'pages', '404'), '13:12');
  assert.equal(position('sites', 0, 'locations', 0, 'settings', 'httpErrors', 'pages', '404.10'), '40:30');
  assert.equal(position('sites', 0, 'applications', 0, 'virtualDirectories', 0, 'physicalPath'), '31:27');
  assert.equal(position(), '1:1');
  assert.equal(position('sites', 0, 'nothing'), undefined);
  assert.equal(position('sites', 7), undefined);
  assert.equal(position('sites', 'name'), undefined);
});

test('values reached through an alias are positioned at the anchor', (t) => {
  const tree = makeTree(t);
  const text = `defaults: &flags
  accessFlags: [read]
sites:
  - name: a
    bindings: [{ protocol: http, ip: '*', port: 8080 }]
    physicalPath: www
    settings: *flags
`;
  const config = loaded(loadConfigText(text, tree.file));
  assert.deepEqual(config.input.sites[0]?.settings, { accessFlags: ['read'] });
  assert.deepEqual(config.positionOf(['sites', 0, 'settings', 'accessFlags', 0]), { file: tree.file, line: 2, column: 17 });
});

test('loadConfigFile reads the file and resolves paths against its folder, not the working directory', async (t) => {
  const tree = makeTree(t);
  writeFileSync(tree.file, VALID);
  const config = loaded(await loadConfigFile(tree.file));
  assert.equal(config.input.sites[0]?.physicalPath, join(tree.dir, 'www'));
  assert.equal(config.text, VALID);
});

test('a UTF-8 byte order mark is accepted', (t) => {
  const tree = makeTree(t);
  writeFileSync(tree.file, `\uFEFF${VALID}`);
  return loadConfigFile(tree.file).then((result) => assert.equal(loaded(result).input.sites[0]?.name, 'Default'));
});

test('a missing file, a folder, an empty file, a comment-only file, invalid UTF-8: one clear problem each', async (t) => {
  const tree = makeTree(t);
  const only = async (file: string): Promise<string> => {
    const list = problems(await loadConfigFile(file));
    assert.equal(list.length, 1);
    return formatProblems(list);
  };
  assert.equal(await only(join(tree.dir, 'absent.yaml')), `${join(tree.dir, 'absent.yaml')}: cannot read the configuration: no such file`);
  mkdirSync(join(tree.dir, 'conf.d'));
  assert.equal(await only(join(tree.dir, 'conf.d')), `${join(tree.dir, 'conf.d')}: is a folder, not a configuration file`);
  const empty = tree.write('empty.yaml', '');
  assert.equal(await only(empty), `${empty}: the configuration is empty: it needs at least a \`sites:\` list`);
  const comments = tree.write('comments.yaml', '# nothing yet\n\n');
  assert.equal(await only(comments), `${comments}: the configuration is empty: it needs at least a \`sites:\` list`);
  const latin1 = tree.write('latin1.yaml', Buffer.from('sites:\n  - name: caf\xe9\n', 'latin1'));
  assert.equal(await only(latin1), `${latin1}: is not valid UTF-8 text`);
});

test('a document that is not a mapping is one problem at its start', (t) => {
  const tree = makeTree(t);
  assert.deepEqual(brief(problems(loadConfigText('- name: a\n', tree.file))), ["1:1 the configuration must be a mapping (with a 'sites:' list), not a list"]);
  assert.deepEqual(brief(problems(loadConfigText('\n  hello\n', tree.file))), ["2:3 the configuration must be a mapping (with a 'sites:' list), not 'hello'"]);
  assert.deepEqual(brief(problems(loadConfigText('null\n', tree.file))), ["1:1 the configuration must be a mapping (with a 'sites:' list), not nothing"]);
});

test('YAML syntax errors are problems at their position', (t) => {
  const tree = makeTree(t);
  const list = brief(problems(loadConfigText('sites:\n  - name: a\n   bindings: []\n', tree.file)));
  assert.ok(list.length >= 1);
  assert.match(list[0] ?? '', /^3:\d+ YAML syntax: /);
  assert.deepEqual(brief(problems(loadConfigText('sites: [a, b\n', tree.file))).slice(0, 1), ['2:1 YAML syntax: Flow sequence in block collection must be sufficiently indented and end with a ]']);
  assert.deepEqual(brief(problems(loadConfigText('\tsites: []\n', tree.file))), ['1:1 YAML syntax: Tabs are not allowed as indentation']);
});

test('duplicate keys are problems at the repeated key', (t) => {
  const tree = makeTree(t);
  const text = 'sites:\n  - name: a\n    physicalPath: www\n    name: b\n';
  assert.deepEqual(brief(problems(loadConfigText(text, tree.file))), ['4:5 duplicate key: each key may appear once in a mapping']);
});

test('tags outside the YAML 1.2 core schema are refused, known ones included', (t) => {
  const tree = makeTree(t);
  const text = 'a: !!binary aGk=\nb: !!timestamp 2001-12-14\nc: !!set { x }\nd: !custom 1\ne: !!str 80\n';
  assert.deepEqual(brief(problems(loadConfigText(text, tree.file))), [
    '1:4 tag !!binary is not allowed: only plain YAML values are (strings, numbers, true/false, null, mappings and lists)',
    '2:4 tag !!timestamp is not allowed: only plain YAML values are (strings, numbers, true/false, null, mappings and lists)',
    '3:4 tag !!set is not allowed: only plain YAML values are (strings, numbers, true/false, null, mappings and lists)',
    '4:4 tag !custom is not allowed: only plain YAML values are (strings, numbers, true/false, null, mappings and lists)',
  ]);
});

test('YAML 1.1 documents, several documents and keys that are collections are refused', (t) => {
  const tree = makeTree(t);
  assert.deepEqual(brief(problems(loadConfigText('%YAML 1.1\n---\nsites: []\n', tree.file))), [
    '1:1 YAML 1.1 is not supported: configurations are YAML 1.2 (remove the %YAML directive)',
  ]);
  assert.deepEqual(brief(problems(loadConfigText('sites: []\n---\nsites: []\n', tree.file))), [
    '2:1 the file holds several YAML documents (`---`); a configuration is one document',
  ]);
  assert.deepEqual(brief(problems(loadConfigText('? [a, b]\n: 1\n', tree.file))), ['1:3 mapping keys must be plain strings, not lists, mappings or aliases']);
});

test('aliases: undefined anchors, self-reference and alias bombs are problems, not hangs', (t) => {
  const tree = makeTree(t);
  assert.deepEqual(brief(problems(loadConfigText('sites: *none\n', tree.file))), ['1:8 alias *none has no anchor &none before it']);
  assert.deepEqual(brief(problems(loadConfigText('sites: &s [*s]\n', tree.file))), ['1:12 alias *s is inside its own anchor &s: the value would be infinite']);
  // Ten levels of ten aliases each: 10^10 nodes if expanded.
  const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]'];
  for (let i = 1; i < 10; i++) lines.push(`a${i}: &a${i} [${Array.from({ length: 10 }, () => `*a${i - 1}`).join(', ')}]`);
  const bomb = brief(problems(loadConfigText(`${lines.join('\n')}\n`, tree.file)));
  assert.equal(bomb.length, 1);
  assert.match(bomb[0] ?? '', /^\d+:\d+ more than 100 alias expansions: the document would grow without bound$/);
});

test('merge keys are not YAML 1.2: they are refused with a way out', (t) => {
  const tree = makeTree(t);
  const text = `base: &base { physicalPath: www }
sites:
  - <<: *base
    name: a
`;
  const list = brief(problems(loadConfigText(text, tree.file)));
  assert.ok(list.includes("3:5 merge keys ('<<') are not supported: use an alias for the whole value, or repeat the keys"), list.join('\n'));
});

test('a key named __proto__ is an unknown key, not a prototype', (t) => {
  const tree = makeTree(t);
  const text = `sites:
  - name: a
    bindings: [{ protocol: http, ip: '*', port: 8080 }]
    physicalPath: www
    __proto__: { polluted: true }
`;
  const list = brief(problems(loadConfigText(text, tree.file)));
  assert.equal(list.length, 1);
  assert.match(list[0] ?? '', /^5:5 unknown key '__proto__' \(expected one of: name, /);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('absurd nesting is a problem, not a stack overflow', (t) => {
  const tree = makeTree(t);
  const list = problems(loadConfigText(`sites: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`, tree.file));
  assert.ok(list.every((p) => p.line >= 0 && p.message.length > 0));
});

test('formatProblems writes file:line:column: message, one per line; file: message for the whole file', () => {
  const text = formatProblems([
    { file: '/etc/persona.yaml', line: 3, column: 7, message: 'unknown key', path: 'sites[0].x' },
    { file: '/etc/persona.yaml', line: 0, column: 0, message: 'is not valid UTF-8 text', path: '' },
  ]);
  assert.equal(text, '/etc/persona.yaml:3:7: unknown key\n/etc/persona.yaml: is not valid UTF-8 text');
});

test('problems are listed in file order', (t) => {
  const tree = makeTree(t);
  const text = `sites:
  - name: a
    bindings: [{ protocol: ftp, ip: '*', port: 0 }]
    physicalPath: nowhere
    colour: blue
`;
  const list = problems(loadConfigText(text, tree.file));
  const order = list.map((p) => p.line * 1000 + p.column);
  assert.deepEqual(order, [...order].sort((a, b) => a - b));
  assert.equal(list.length, 4);
});

/** Generated input must never make the loader throw: it returns a configuration or problems. */
function neverThrows(text: string, file: string): void {
  const result = loadConfigText(text, file);
  if ('problems' in result) {
    assert.ok(result.problems.length > 0);
    for (const p of result.problems) {
      assert.ok(Number.isInteger(p.line) && p.line >= 0 && Number.isInteger(p.column) && p.column >= 0);
      assert.equal(typeof p.message, 'string');
      assert.ok(p.message.length > 0);
    }
  } else {
    assert.ok(Array.isArray(result.input.sites));
  }
}

test('property: arbitrary text never makes loadConfigText throw', (t) => {
  const tree = makeTree(t);
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 400 }), (text) => neverThrows(text, tree.file)),
    { numRuns: 500 },
  );
});

test('property: YAML-ish text built from YAML punctuation never makes loadConfigText throw', (t) => {
  const tree = makeTree(t);
  const token = fc.constantFrom(
    'sites:', '- ', '  ', '\n', ':', ' ', '&a ', '*a', '&b ', '*b', '!!str ', '!x ', '? ', '[', ']', '{', '}', ',', '"', "'", '#',
    '---\n', '...\n', '%YAML 1.2\n', 'name', 'port: 80', 'bindings:', 'protocol: http', "ip: '*'", 'physicalPath: www', '|\n', '>-\n',
    '<<: ', '__proto__', '\t', '\\', '~', 'null', '.inf', '0x1F', '404.10', 'true',
  );
  fc.assert(
    fc.property(fc.array(token, { maxLength: 60 }), (tokens) => neverThrows(tokens.join(''), tree.file)),
    { numRuns: 1000 },
  );
});

test('property: arbitrary JSON values, as JSON and as YAML, never make loadConfigText throw', (t) => {
  const tree = makeTree(t);
  fc.assert(
    fc.property(fc.jsonValue({ maxDepth: 6 }), (value) => {
      neverThrows(JSON.stringify(value), tree.file);
      neverThrows(stringify(value), tree.file);
      neverThrows(stringify({ sites: [value] }), tree.file);
    }),
    { numRuns: 500 },
  );
});

test('property: configurations built from the schema’s own shapes never make loadConfigText throw', (t) => {
  const tree = makeTree(t);
  const scalar = fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.boolean(), fc.constant(null), fc.constantFrom('www', '*', 'http', 'https', '/app', 'tls/cert.pem'));
  const binding = fc.record({ protocol: scalar, ip: scalar, port: fc.oneof(fc.integer({ min: -1, max: 70000 }), scalar), host: scalar }, { requiredKeys: [] });
  const site = fc.record(
    {
      name: scalar,
      id: scalar,
      bindings: fc.array(binding, { maxLength: 3 }),
      physicalPath: scalar,
      tls: fc.record({ certificate: scalar, key: scalar }, { requiredKeys: [] }),
      applications: fc.array(fc.record({ path: scalar, physicalPath: scalar }, { requiredKeys: [] }), { maxLength: 3 }),
      locations: fc.array(fc.record({ path: scalar, settings: fc.dictionary(fc.string({ maxLength: 8 }), scalar) }, { requiredKeys: [] }), { maxLength: 2 }),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.array(site, { maxLength: 3 }), (sites) => neverThrows(stringify({ sites }), tree.file)),
    { numRuns: 300 },
  );
});
