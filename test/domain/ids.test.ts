import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newId } from '../../src/domain/ids.js';

describe('ids', () => {
  it('are 16 URL-safe characters, and never repeat across refills of the random pool', () => {
    const ids = Array.from({ length: 2_000 }, () => newId());
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{16}$/);
    assert.equal(new Set(ids).size, ids.length);
  });
});
