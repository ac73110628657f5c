import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newId, newTimeOrderedId } from '../../src/domain/ids.js';

describe('ids', () => {
  it('are 16 URL-safe characters, and never repeat across refills of the random pool', () => {
    const ids = Array.from({ length: 2_000 }, () => newId());
    for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{16}$/);
    assert.equal(new Set(ids).size, ids.length);
  });

  it('time-ordered ids sort as their times do, and are URL-safe and unique within a millisecond', () => {
    const at = Date.UTC(2026, 11, 4);
    const sameMs = Array.from({ length: 1_000 }, () => newTimeOrderedId(at));
    for (const id of sameMs) assert.match(id, /^[0-9a-z]{9}[A-Za-z0-9_-]{12}$/);
    assert.equal(new Set(sameMs).size, sameMs.length);
    const times = [0, 1, 35, 36, at - 1, at, at + 1, Date.UTC(5000, 0)];
    const ids = times.map((t) => newTimeOrderedId(t));
    assert.deepEqual([...ids].sort(), ids);
  });
});
