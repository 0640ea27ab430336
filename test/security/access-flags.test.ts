/** Access flags, exhaustively: every subset of flags against every required access. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAccessFlags } from '../../src/security/access-flags.js';
import { ACCESS_FLAGS, type AccessFlag } from '../../src/config/schema.js';

const SUBSTATUS: Record<AccessFlag, number> = { read: 2, write: 3, execute: 1, script: 1, source: 21, browse: 14 };

test('granted exactly when the flag is present (execute implies script); refusals carry IIS substatus and the origin', () => {
  for (let mask = 0; mask < 1 << ACCESS_FLAGS.length; mask++) {
    const flags = ACCESS_FLAGS.filter((_, i) => mask & (1 << i));
    for (const required of ACCESS_FLAGS) {
      const d = checkAccessFlags(flags, required, 'location /x');
      const expected = flags.includes(required) || (required === 'script' && flags.includes('execute'));
      assert.equal(d.allowed, expected, `${flags.join(',')} / ${required}`);
      if (!expected) {
        assert.equal(d.error?.status, 403);
        assert.equal(d.error?.substatus, SUBSTATUS[required]);
        assert.match(d.reason, /location \/x/);
      }
    }
  }
});
