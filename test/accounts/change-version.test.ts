/**
 * changeVersion: what lets caches skip a database read per request. It must move after any commit — this handle's
 * at once, another connection's from the next event-loop iteration on — and stay put otherwise.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempStore } from './fixture.js';

const nextIteration = () => new Promise<void>((resolve) => setImmediate(resolve));

test('stable without writes; moves at once on this handle\'s writes and in the next iteration on another\'s', async () => {
  const t = tempStore();
  try {
    const other = t.reopen();
    const v0 = t.store.changeVersion();
    await nextIteration();
    assert.equal(t.store.changeVersion(), v0, 'nothing changed');
    t.store.createGroup('Editors');
    const v1 = t.store.changeVersion();
    assert.notEqual(v1, v0, "this handle's own write is seen at once");
    await nextIteration();
    other.createGroup('Writers');
    await nextIteration();
    assert.notEqual(t.store.changeVersion(), v1, "another connection's commit is seen in the next iteration");
  } finally {
    t.cleanup();
  }
});
