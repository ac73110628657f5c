import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { acceptsJson } from '../../src/http/guard.js';
import { Lockout } from '../../src/http/lockout.js';
import { RateLimiter } from '../../src/http/rate-limit.js';

describe('acceptsJson', () => {
  it('accepts absent, wildcard and JSON ranges', () => {
    for (const accept of [undefined, '', '*/*', 'application/*', 'application/json', 'text/html, application/json;q=0.5', 'application/problem+json']) {
      assert.ok(acceptsJson(accept), String(accept));
    }
  });
  it('refuses ranges without JSON, or JSON at q=0', () => {
    for (const accept of ['text/html', 'application/xml', 'application/json;q=0', 'text/*']) assert.ok(!acceptsJson(accept), accept);
  });
});

describe('Lockout', () => {
  it('locks a source after the threshold within the window, for the duration', () => {
    const lockout = new Lockout(3, 60_000, 300_000);
    for (let i = 0; i < 2; i++) lockout.recordFailure('a', 1000);
    assert.equal(lockout.lockedFor('a', 1000), 0);
    lockout.recordFailure('a', 2000);
    assert.equal(lockout.lockedFor('a', 2000), 300);
    assert.equal(lockout.lockedFor('b', 2000), 0, 'other sources are not affected');
    assert.equal(lockout.lockedFor('a', 302_001), 0, 'the lock ends');
  });
  it('forgets failures older than the window', () => {
    const lockout = new Lockout(3, 60_000, 300_000);
    lockout.recordFailure('a', 0);
    lockout.recordFailure('a', 1);
    lockout.recordFailure('a', 60_001);
    assert.equal(lockout.lockedFor('a', 60_001), 0);
  });
});

describe('RateLimiter', () => {
  it('counts per bucket in one-minute windows', () => {
    const limiter = new RateLimiter(2);
    const t = 120_000 + 5;
    assert.deepEqual(limiter.take('k', t), { limit: 2, remaining: 1, reset: 180, allowed: true });
    assert.equal(limiter.take('k', t).allowed, true);
    assert.equal(limiter.take('k', t).allowed, false);
    assert.equal(limiter.take('other', t).allowed, true);
    assert.equal(limiter.take('k', 180_000).allowed, true, 'a new window starts fresh');
  });
});
