import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { formatProblems, loadConfigText, type ConfigProblem, type LoadedConfig } from '../../src/config/load.js';
import { canonicalProblem, hostProblem } from '../../src/config/semantics.js';
import { closest } from '../../src/config/suggest.js';
import { makeTree, VALID, type Tree } from './tree.js';

function problems(result: LoadedConfig | { problems: ConfigProblem[] }): ConfigProblem[] {
  if (!('problems' in result)) assert.fail('expected problems, got a configuration');
  return result.problems;
}

/** `line:column message` per problem. */
function check(tree: Tree, text: string): string[] {
  return problems(loadConfigText(text, tree.file)).map((p) => `${p.line}:${p.column} ${p.message}`);
}

/** One site around the given YAML lines (indented as site keys), for tests about one site. */
function oneSite(lines: string): string {
  return `sites:\n  - name: a\n${lines}`;
}
const BIND = "    bindings: [{ protocol: http, ip: '*', port: 8080 }]\n";
const ROOT = '    physicalPath: www\n';

// ---------- schema ----------

test('an unknown key is reported at the key, with the expected keys and a suggestion', (t) => {
  const tree = makeTree(t);
  assert.deepEqual(check(tree, oneSite(`    bindngs: [{ protocol: http, ip: '*', port: 8080 }]\n${ROOT}`)), [
    "2:5 missing required key 'bindings'",
    "3:5 unknown key 'bindngs' (expected one of: name, id, bindings, tls, physicalPath, settings, applications, virtualDirectories, locations; did you mean 'bindings'?)",
  ]);
  const problem = problems(loadConfigText(oneSite(`${BIND}${ROOT}    physicalpath: www\n`), tree.file))[0];
  assert.equal(problem?.path, 'sites[0].physicalpath');
  assert.match(problem?.message ?? '', /did you mean 'physicalPath'\?\)$/);
});

test('an unknown key far from every known key gets no suggestion', (t) => {
  const tree = makeTree(t);
  assert.deepEqual(check(tree, `colour: blue\n${oneSite(BIND + ROOT)}`), ["1:1 unknown key 'colour' (expected one of: $schema, server, defaults, sites)"]);
});

test('a wrong type or range is reported at the value, saying what was expected', (t) => {
  const tree = makeTree(t);
  assert.deepEqual(check(tree, oneSite(`    bindings:\n      - { protocol: http, ip: '*', port: eighty }\n      - { protocol: http, ip: '*', port: 70000 }\n${ROOT}`)), [
    "4:42 expected integer 1–65535, got 'eighty'",
    '5:42 expected integer 1–65535, got 70000',
  ]);
  assert.deepEqual(check(tree, oneSite(`    bindings: [{ protocol: http, ip: '*', port: '8080' }]\n${ROOT}`)), [
    "3:49 expected integer 1–65535, got '8080' (a quoted number is a string: remove the quotes)",
  ]);
  assert.deepEqual(check(tree, oneSite(`${BIND}    physicalPath:\n`)), ['4:18 expected a non-empty string, got nothing']);
  assert.deepEqual(check(tree, oneSite(`${BIND}${ROOT}    bindings: 3\n`)), ['5:5 duplicate key: each key may appear once in a mapping']);
});

test('a union of literals is one message listing the choices, with a suggestion', (t) => {
  const tree = makeTree(t);
  assert.deepEqual(check(tree, oneSite(`    bindings: [{ protocol: htps, ip: '*', port: 8080 }]\n${ROOT}`)), [
    "3:28 expected one of: http, https; got 'htps' (did you mean 'https'?)",
  ]);
  assert.deepEqual(check(tree, oneSite(`${BIND}${ROOT}    settings:\n      accessFlags: [read, wirte, 3]\n      httpErrors: { errorMode: custom }\n`)), [
    "6:27 expected one of: read, write, script, execute, source, browse; got 'wirte' (did you mean 'write'?)",
    '6:34 expected one of: read, write, script, execute, source, browse; got 3',
    "7:32 expected one of: DetailedLocalOnly, Detailed, Custom; got 'custom' (did you mean 'Custom'?)",
  ]);
});

test('booleans, lists and mappings of the wrong kind say so, with YAML hints', (t) => {
  const tree = makeTree(t);
  assert.deepEqual(check(tree, oneSite(`${BIND}${ROOT}    settings:\n      defaultDocument: { enabled: yes, files: index.html }\n      trace: []\n`)), [
    '6:35 expected true or false, got \'yes\' (YAML 1.2 booleans are true and false)',
    "6:47 expected a list, got 'index.html'",
    '7:14 expected a mapping, got a list',
  ]);
  assert.deepEqual(check(tree, oneSite(`${BIND}    physicalPath: 42\n`)), ['4:19 expected a non-empty string, got 42 (quote it to make it a string)']);
});

test('missing required keys, empty lists and repeated items are reported where they are', (t) => {
  const tree = makeTree(t);
  assert.deepEqual(check(tree, 'server: {}\n'), ["1:1 missing required key 'sites'"]);
  assert.deepEqual(check(tree, 'sites: []\n'), ['1:8 expected at least 1 item, got an empty list']);
  assert.deepEqual(check(tree, oneSite(`    bindings: [{ protocol: http, port: 8080 }]\n${ROOT}`)), ["3:16 missing required key 'ip'"]);
  assert.deepEqual(check(tree, oneSite(`${BIND}${ROOT}    settings: { accessFlags: [read, script, read] }\n`)), ["5:45 'read' is listed twice"]);
});

test('dictionary keys must match their pattern; values are checked per key', (t) => {
  const tree = makeTree(t);
  assert.deepEqual(check(tree, oneSite(`${BIND}${ROOT}    settings:\n      staticContent:\n        mimeMap: { html: text/html, .css: text }\n      httpErrors:\n        pages: { 200: errors/404.html }\n`)), [
    "7:20 invalid key 'html': expected a file extension with its dot, like '.html'",
    "7:43 expected a media type like 'text/html' (or '' to remove an inherited mapping), got 'text'",
    "9:18 invalid key '200': expected an error status like '404' or '404.13'",
  ]);
});

test('server sections are validated too', (t) => {
  const tree = makeTree(t);
  assert.deepEqual(check(tree, `server:\n  logging: { level: verbose, w3c: { fields: [date, date], period: weekly } }\n  limits: { maxConnections: 0 }\n${oneSite(BIND + ROOT)}`), [
    "2:21 expected one of: fatal, error, warn, info, debug, trace; got 'verbose'",
    "2:52 'date' is listed twice",
    "2:67 expected one of: daily, hourly; got 'weekly'",
    '3:29 expected integer ≥ 1, got 0',
  ]);
});

// ---------- checks across the file ----------

test('duplicate site names (ignoring case) and ids are reported at the repeat', (t) => {
  const tree = makeTree(t);
  const text = `sites:
  - name: Default
    id: 1
    bindings: [{ protocol: http, ip: '*', port: 8080 }]
    physicalPath: www
  - name: default
    id: 1
    bindings: [{ protocol: http, ip: '*', port: 8081 }]
    physicalPath: www
`;
  assert.deepEqual(check(tree, text), [
    "6:11 duplicate site name 'default' (first used at line 2); site names must be unique, ignoring case",
    '7:9 duplicate site id 1 (first used at line 3)',
  ]);
});

test('the same binding twice, in one site or two, is reported at the second', (t) => {
  const tree = makeTree(t);
  const text = `sites:
  - name: a
    bindings:
      - { protocol: http, ip: '*', port: 8080, host: Example.com }
      - { protocol: http, ip: '::1', port: 8080 }
    physicalPath: www
  - name: b
    bindings:
      - { protocol: http, ip: '*', port: 8080, host: example.COM }
      - { protocol: http, ip: '0:0:0:0:0:0:0:1', port: 8080 }
      - { protocol: http, ip: '*', port: 8080, host: other.example.com }
    physicalPath: www
`;
  assert.deepEqual(check(tree, text), [
    "9:9 binding http *:8080:example.com is already used by site 'a' (line 4); each protocol, ip, port and host may be bound once",
    "10:9 binding http [::1]:8080 is already used by site 'a' (line 5); each protocol, ip, port and host may be bound once",
  ]);
});

test('an address and port used with both http and https is reported, wildcards included', (t) => {
  const tree = makeTree(t);
  const text = `sites:
  - name: a
    bindings:
      - { protocol: http, ip: '*', port: 8080 }
      - { protocol: https, ip: 127.0.0.1, port: 8080 }
      - { protocol: https, ip: 127.0.0.1, port: 8443 }
      - { protocol: http, ip: 127.0.0.2, port: 8443 }
    tls: { certificate: tls/cert.pem, key: tls/key.pem }
    physicalPath: www
`;
  assert.deepEqual(check(tree, text), [
    '5:49 port 8080 on 127.0.0.1 is bound with both http and https (the http binding is at line 4); one listening socket cannot serve both',
  ]);
});

test('an https binding on a site without tls is reported once, at the first such binding', (t) => {
  const tree = makeTree(t);
  const text = oneSite(`    bindings:\n      - { protocol: https, ip: '*', port: 8443 }\n      - { protocol: https, ip: '*', port: 9443 }\n${ROOT}`);
  assert.deepEqual(check(tree, text), ["4:21 site 'a' has an https binding but no tls: add tls: { certificate: …, key: … } to the site"]);
});

test('ips must be * or an address; hosts must be RFC 1123 names', (t) => {
  const tree = makeTree(t);
  const text = oneSite(`    bindings:
      - { protocol: http, ip: localhost, port: 8080 }
      - { protocol: http, ip: '[::1]', port: 8080 }
      - { protocol: http, ip: 300.1.2.3, port: 8080 }
      - { protocol: http, ip: '*', port: 8080, host: 'example.com:8080' }
      - { protocol: http, ip: '*', port: 8080, host: 'bad_name.example.com' }
      - { protocol: http, ip: '*', port: 8080, host: '*' }
${ROOT}`);
  assert.deepEqual(check(tree, text), [
    "4:31 ip 'localhost' is not an address: use '*' or an IPv4/IPv6 address, and put a host name in 'host'",
    "5:31 ip '[::1]': write IPv6 addresses without brackets ('::1')",
    "6:31 ip '300.1.2.3' is neither '*' nor a valid IPv4 or IPv6 address",
    "7:54 host 'example.com:8080' must not include a port: the binding's port is separate",
    "8:54 host 'bad_name.example.com' is not a valid host name: label 'bad_name' may hold only letters, digits and inner hyphens (RFC 1123)",
    "9:54 host '*' is not a host name: leave host out (or empty) to match any host",
  ]);
});

test('hostProblem accepts RFC 1123 names and refuses the rest', () => {
  for (const good of ['localhost', 'example.com', 'a-b.c0.example', '123.example', '127.0.0.1', 'X'.repeat(63)]) assert.equal(hostProblem(good), undefined, good);
  for (const bad of ['-a.com', 'a-.com', 'a..b', '.a', 'a.', 'ex ample.com', 'é.com', `${'x'.repeat(64)}.com`, `${'a.'.repeat(127)}a`]) assert.ok(hostProblem(bad), bad);
});

test('TLS files must exist, be PEM, parse, be unencrypted and belong together', (t) => {
  const tree = makeTree(t);
  const tls = (certificate: string, key: string): string[] =>
    check(tree, oneSite(`    bindings: [{ protocol: https, ip: '*', port: 8443 }]\n    tls:\n      certificate: ${certificate}\n      key: ${key}\n${ROOT}`));
  const abs = (relative: string): string => join(tree.dir, relative);
  assert.deepEqual(tls('tls/missing.pem', 'tls'), [
    `5:20 certificate 'tls/missing.pem' (${abs('tls/missing.pem')}) does not exist`,
    `6:12 key 'tls' (${abs('tls')}) is not a file`,
  ]);
  assert.deepEqual(tls('notes.txt', 'notes.txt'), [
    `5:20 certificate 'notes.txt' (${abs('notes.txt')}) is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line)`,
    `6:12 key 'notes.txt' (${abs('notes.txt')}) is not a PEM private key (error:1E08010C:DECODER routines::unsupported)`,
  ]);
  assert.deepEqual(tls('tls/cert.pem', 'tls/encrypted-key.pem'), [
    `6:12 key 'tls/encrypted-key.pem' (${abs('tls/encrypted-key.pem')}) is protected by a passphrase: give Persona an unencrypted key, readable only by the server account`,
  ]);
  assert.deepEqual(tls('tls/key.pem', 'tls/cert.pem'), [
    `5:20 certificate 'tls/key.pem' (${abs('tls/key.pem')}) is not a PEM certificate (no '-----BEGIN CERTIFICATE-----' line)`,
    `6:12 key 'tls/cert.pem' (${abs('tls/cert.pem')}) holds a certificate, not a private key (are certificate and key swapped?)`,
  ]);
  assert.deepEqual(tls('tls/cert.pem', 'tls/other-key.pem'), ["6:12 key 'tls/other-key.pem' does not belong to certificate 'tls/cert.pem'"]);
  assert.deepEqual(tls(abs('tls/cert.pem'), abs('tls/missing-key.pem')), [`6:12 key '${abs('tls/missing-key.pem')}' does not exist`]);
});

test('physicalPath must be an existing folder, at every level', (t) => {
  const tree = makeTree(t);
  const text = oneSite(`${BIND}    physicalPath: nowhere
    applications:
      - { path: /app, physicalPath: www/index.html }
      - { path: /app2, physicalPath: app, virtualDirectories: [{ path: /app2/v, physicalPath: gone }] }
    virtualDirectories:
      - { path: /v, physicalPath: ${join(tree.dir, 'also-gone')} }
`);
  assert.deepEqual(check(tree, text), [
    `4:19 physicalPath 'nowhere' (${join(tree.dir, 'nowhere')}) does not exist`,
    `6:37 physicalPath 'www/index.html' (${join(tree.dir, 'www/index.html')}) is not a folder`,
    `7:95 physicalPath 'gone' (${join(tree.dir, 'gone')}) does not exist`,
    `9:35 physicalPath '${join(tree.dir, 'also-gone')}' does not exist`,
  ]);
});

test('application, virtual directory and location paths are unique per site, ignoring case', (t) => {
  const tree = makeTree(t);
  const text = oneSite(`${BIND}${ROOT}    applications:
      - { path: /App, physicalPath: app, virtualDirectories: [{ path: /, physicalPath: shared }] }
      - { path: /app }
      - { path: /other, virtualDirectories: [{ path: /v, physicalPath: shared }] }
    virtualDirectories:
      - { path: /Other/V, physicalPath: shared }
      - { path: /app, physicalPath: shared }
    locations:
      - { path: /a, settings: {} }
      - { path: /A, settings: {} }
`);
  assert.deepEqual(check(tree, text), [
    "6:71 virtual directory '/' (/App) maps the same URL path as application '/App' (line 6), which has its own physicalPath",
    "7:17 duplicate application path '/app': '/App' is already defined at line 6 (URL paths are compared ignoring case)",
    "10:17 duplicate virtual directory path '/Other/V': '/v' (/other/v) is already defined at line 8 (URL paths are compared ignoring case)",
    "11:17 duplicate virtual directory path '/app': '/' (/App) is already defined at line 6 (URL paths are compared ignoring case)",
    "11:17 virtual directory '/app' maps the same URL path as application '/App' (line 6), which has its own physicalPath",
    "14:17 duplicate location path '/A': '/a' is already defined at line 13 (URL paths are compared ignoring case)",
  ]);
});

test('application, virtual directory and location paths must be canonical', (t) => {
  const tree = makeTree(t);
  const text = oneSite(`${BIND}${ROOT}    applications:
      - { path: /app/, physicalPath: app }
      - { path: //b//c }
      - { path: /d/../e }
      - { path: /f%20g }
      - { path: '/h:i' }
      - { path: '/j\\k' }
      - { path: /l, virtualDirectories: [{ path: /m/, physicalPath: shared }] }
    locations:
      - { path: /n/./o, settings: {} }
`);
  assert.deepEqual(check(tree, text), [
    "6:17 application path '/app/' is not canonical: no trailing '/' (write '/app')",
    "7:17 application path '//b//c' is not canonical: no '//' (write '/b/c')",
    "8:17 application path '/d/../e' is not canonical: no '.' or '..' segments",
    "9:17 application path '/f%20g' is not canonical: no '%'",
    "10:17 application path '/h:i' is not canonical: no ':'",
    "11:17 application path '/j\\k' is not canonical: no '\\'",
    "12:50 virtual directory path '/m/' is not canonical: no trailing '/' (write '/m')",
    "14:17 location path '/n/./o' is not canonical: no '.' or '..' segments",
  ]);
});

test('canonicalProblem accepts canonical paths and refuses every other spelling', () => {
  for (const good of ['/', '/a', '/a/b.c', '/.well-known', '/a b', '/ünï']) assert.equal(canonicalProblem(good), undefined, good);
  fc.assert(
    fc.property(fc.array(fc.stringMatching(/^[a-z.]{1,4}$/), { minLength: 1, maxLength: 4 }), (segments) => {
      const path = `/${segments.join('/')}`;
      const dotted = segments.some((s) => s === '.' || s === '..');
      assert.equal(canonicalProblem(path) !== undefined, dotted, path);
      assert.notEqual(canonicalProblem(`${path}/`), undefined);
      assert.notEqual(canonicalProblem(path.replace('/', '//')), undefined);
    }),
  );
});

test('error pages and filter modules must be existing files', (t) => {
  const tree = makeTree(t);
  const text = `server:
  filters:
    - { name: audit, module: filters/audit.js }
    - { name: audit, module: filters/missing.js }
    - { name: other, module: filters }
defaults:
  httpErrors: { pages: { 404: errors/404.html, 500: errors/500.html } }
${oneSite(`${BIND}${ROOT}    locations:\n      - { path: /x, settings: { httpErrors: { pages: { 403.14: errors } } } }\n`)}`;
  assert.deepEqual(check(tree, text), [
    `4:30 filter module 'filters/missing.js' (${join(tree.dir, 'filters/missing.js')}) does not exist`,
    '4:15 duplicate filter name \'audit\' (first used at line 3)',
    `5:30 filter module 'filters' (${join(tree.dir, 'filters')}) is not a file`,
    `7:53 error page for 500: 'errors/500.html' (${join(tree.dir, 'errors/500.html')}) does not exist`,
    `13:64 error page for 403.14: 'errors' (${join(tree.dir, 'errors')}) is not a file`,
  ].sort((a, b) => position(a) - position(b)));
});

function position(line: string): number {
  const [l, c] = line.split(' ')[0]?.split(':').map(Number) ?? [];
  return (l ?? 0) * 1000 + (c ?? 0);
}

test('several problems of every kind are all reported together, in file order', (t) => {
  const tree = makeTree(t);
  const text = `sites:
  - name: a
    bindings:
      - { protocol: http, ip: '*', port: 8080 }
      - { protocol: https, ip: '*', port: 8080 }
    physicalPath: nowhere
    colour: blue
    applications:
      - { path: /x/ }
  - name: A
    bindings: [{ protocol: http, ip: '*', port: 8080 }]
    physicalPath: www
    settings: { accessFlags: [reed] }
`;
  const result = problems(loadConfigText(text, tree.file));
  assert.deepEqual(
    result.map((p) => `${p.line}:${p.column} ${p.path}`),
    [
      '5:21 sites[0].bindings[1].protocol',
      '5:43 sites[0].bindings[1].port',
      '6:19 sites[0].physicalPath',
      '7:5 sites[0].colour',
      '9:17 sites[0].applications[0].path',
      '10:11 sites[1].name',
      '11:16 sites[1].bindings[0]',
      '13:31 sites[1].settings.accessFlags[0]',
    ],
  );
  assert.match(formatProblems(result), new RegExp(`^${tree.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:5:21: site 'a' has an https binding`));
});

test('the valid configuration has no problems at all', (t) => {
  const tree = makeTree(t);
  const result = loadConfigText(VALID, tree.file);
  assert.ok(!('problems' in result), 'problems' in result ? formatProblems(result.problems) : '');
});

test('closest suggests near misses only', () => {
  assert.equal(closest('bindngs', ['name', 'bindings']), 'bindings');
  assert.equal(closest('Bindings', ['bindings']), 'bindings');
  assert.equal(closest('phsyicalPath', ['physicalPath']), 'physicalPath');
  assert.equal(closest('colour', ['name', 'bindings', 'sites']), undefined);
  assert.equal(closest('ab', ['xy']), undefined);
});
