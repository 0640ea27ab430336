/**
 * The promise of request filtering: whatever bytes arrive, the file served is inside the web root (of the virtual
 * directory that serves it) or the request is refused.
 *
 * 1. In process, thousands of runs: the server's own stage functions (parse the target, resolve the URL, filter,
 *    map to a file through the file cache) on a real tree with symlinks pointing in and out.
 * 2. Over the network, fewer runs: arbitrary bytes in the request line of a real `persona serve`; the secret next to
 *    the web root never appears in a response and the server stays up.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, realpath, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { loadConfigText } from '../../src/config/load.js';
import { compileConfig, resolveUrl, type CompiledConfig } from '../../src/config/compile.js';
import { parseRequestTarget } from '../../src/filtering/target.js';
import { checkRequestFiltering } from '../../src/filtering/request-filter.js';
import { mapRequestHandler } from '../../src/pipeline/stages/map-request-handler.js';
import { FileCache } from '../../src/handlers/static/file-cache.js';
import { isHttpError } from '../../src/pipeline/errors.js';
import { freePort, get, rawRequest, startPersona, tempDir, type RunningPersona } from '../helpers/persona.js';

const SECRET = 'TOP-SECRET-OUTSIDE-THE-ROOT';

/** A tree: www/ (site root) with a vdir mapped to shared/, symlinks that stay inside and that leave. */
async function makeTree(): Promise<{ dir: string; www: string; shared: string }> {
  const dir = await tempDir('contain');
  const www = path.join(dir, 'www');
  const shared = path.join(dir, 'shared');
  await mkdir(path.join(www, 'a', 'b'), { recursive: true });
  await mkdir(shared, { recursive: true });
  await writeFile(path.join(dir, 'secret.txt'), SECRET);
  await writeFile(path.join(www, 'secret.txt'), 'public file that merely shares the name');
  await writeFile(path.join(www, 'a', 'index.html'), 'a index');
  await writeFile(path.join(www, 'a', 'b', 'c.txt'), 'c');
  await writeFile(path.join(shared, 'doc.txt'), 'shared doc');
  await symlink(path.join(dir, 'secret.txt'), path.join(www, 'out.txt'));
  await symlink(dir, path.join(www, 'up'));
  await symlink(path.join(www, 'a'), path.join(www, 'in'));
  await symlink(path.join(dir, 'secret.txt'), path.join(shared, 'leak.txt'));
  await symlink(www, path.join(shared, 'site'));
  return { dir, www, shared };
}

function configYaml(port: number, www: string, shared: string): string {
  return `sites:
  - name: Contain
    bindings: [{ protocol: http, ip: 127.0.0.1, port: ${port} }]
    physicalPath: ${JSON.stringify(www)}
    settings:
      staticContent: { mimeMap: { ".": text/plain } }
    virtualDirectories:
      - { path: /shared, physicalPath: ${JSON.stringify(shared)} }
    locations:
      - path: /a
        settings: { accessFlags: [read, browse] }
`;
}

// Pieces that matter for traversal, encodings and Windows aliases, mixed with ordinary names.
const piece = fc.constantFrom(
  '/', '//', '.', '..', '%2e', '%2E%2e', '%2f', '%5c', '\\', '%25', '%252e', '%00', '%c0%af', '%e2%80%ae', ':', '::$DATA',
  '~', ' ', '%20', '+', '?', '#', 'a', 'b', 'c.txt', 'secret.txt', 'out.txt', 'up', 'in', 'shared', 'site', 'leak.txt',
  'doc.txt', 'index.html', '%u002e', '%', 'é', '%C3%A9', ';', '*',
);
const targetArb = fc.array(piece, { minLength: 0, maxLength: 12 }).map((parts) => '/' + parts.join(''));

describe('containment', () => {
  let tree: { dir: string; www: string; shared: string };
  let compiled: CompiledConfig;
  let realRoots: string[];

  before(async () => {
    tree = await makeTree();
    const loaded = loadConfigText(configYaml(8, tree.www, tree.shared), path.join(tree.dir, 'persona.yaml'));
    assert.ok(!('problems' in loaded), JSON.stringify('problems' in loaded ? loaded.problems : ''));
    compiled = compileConfig(loaded, path.join(tree.dir, 'logs'));
    realRoots = [await realpath(tree.www), await realpath(tree.shared)];
  });

  test('in process: every accepted target maps inside its virtual directory root', async () => {
    const site = compiled.sites[0]!;
    const cache = new FileCache({ ttlMilliseconds: 0, maxFileBytes: 1024, maxEntries: 100 });
    let served = 0;
    await fc.assert(
      fc.asyncProperty(targetArb, async (raw) => {
        const target = parseRequestTarget(raw);
        if (isHttpError(target)) return;
        const resolution = resolveUrl(compiled, site, target.path, target.segments);
        if (checkRequestFiltering({ method: 'GET', target, headers: {}, contentLength: undefined }, resolution.settings.requestFiltering)) return;
        const handler = await mapRequestHandler(target, resolution, cache);
        if (isHttpError(handler)) return;
        assert.equal(handler.kind, 'static', 'no handler mappings are configured here');
        if (handler.kind !== 'static') return;
        const root = await realpath(resolution.virtualDirectory.physicalPath);
        assert.ok(realRoots.includes(root));
        if (handler.mapping.kind === 'file' || handler.mapping.kind === 'listing') {
          const real = handler.mapping.kind === 'file' ? handler.mapping.file.realPath : handler.mapping.directory.realPath;
          assert.ok(real === root || real.startsWith(root + path.sep), `${raw} → ${real} is outside ${root}`);
          if (handler.mapping.kind === 'file') served++;
        } else {
          assert.ok(handler.mapping.location.startsWith('/') && !handler.mapping.location.startsWith('//'), handler.mapping.location);
        }
      }),
      { numRuns: 4000 },
    );
    assert.ok(served > 0, 'the generator reaches real files too');
  });

  describe('over the network', () => {
    let server: RunningPersona;
    let port: number;
    before(async () => {
      port = await freePort();
      server = await startPersona(configYaml(port, tree.www, tree.shared), { publicRoots: [tree.www, tree.shared] });
    });
    after(async () => server?.stop());

    test('known escapes are refused and inside links still work', async () => {
      assert.equal((await get(`http://127.0.0.1:${port}/in/index.html`)).text, 'a index');
      assert.equal((await get(`http://127.0.0.1:${port}/shared/doc.txt`)).text, 'shared doc');
      for (const url of ['/out.txt', '/up/secret.txt', '/shared/leak.txt', '/shared/site/secret.txt', '/shared/../secret.txt']) {
        const r = await get(`http://127.0.0.1:${port}${url}`);
        assert.doesNotMatch(r.text, new RegExp(SECRET), url);
      }
    });

    test('arbitrary request-line bytes never reveal the secret and never bring the server down', async () => {
      const bytes = fc.oneof(
        targetArb.map((t) => Buffer.from(t, 'utf8')),
        fc.uint8Array({ minLength: 1, maxLength: 60 }).map((b) => Buffer.concat([Buffer.from('/'), Buffer.from(b)])),
      );
      await fc.assert(
        fc.asyncProperty(bytes, async (target) => {
          const reply = await rawRequest(port, Buffer.concat([Buffer.from('GET '), target, Buffer.from(' HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n')]), 2000);
          const text = reply.toString('latin1');
          assert.ok(!text.includes(SECRET), `leak for ${JSON.stringify(target.toString('latin1'))}`);
          assert.match(text, /^HTTP\/1\.1 [1-5]\d\d /, `no proper answer for ${JSON.stringify(target.toString('latin1'))}: ${JSON.stringify(text.slice(0, 60))}`);
        }),
        { numRuns: 150 },
      );
      assert.equal((await get(`http://127.0.0.1:${port}/a/index.html`)).status, 200, 'still serving');
    });
  });
});
