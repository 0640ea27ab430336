import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { hostName, selectSite } from '../../src/server/site-selection.js';
import type { CompiledSite } from '../../src/config/compile.js';

const site = (name: string) => ({ name }) as unknown as CompiledSite;

test('host header parsing: case, port, IPv6 brackets, trailing dot', () => {
  assert.equal(hostName('Example.COM:8080'), 'example.com');
  assert.equal(hostName('[::1]:443'), '::1');
  assert.equal(hostName('example.com.'), 'example.com');
  assert.equal(hostName(undefined), '');
});

test('exact host first, then the host-less binding, else none', () => {
  const a = site('a');
  const fb = site('fallback');
  const sites = { byHost: new Map([['a.test', a]]), fallback: fb };
  assert.equal(selectSite(sites, 'A.test:80'), a);
  assert.equal(selectSite(sites, 'other'), fb);
  assert.equal(selectSite({ byHost: sites.byHost, fallback: undefined }, 'other'), undefined);
  fc.assert(fc.property(fc.string(), (h) => {
    const chosen = selectSite(sites, h);
    assert.ok(chosen === a || chosen === fb);
  }));
});
