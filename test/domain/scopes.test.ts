import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { allows, defaultScopes, fullScopes, isProtected, type Scope } from '../../src/domain/scopes.js';
import { parseDuration } from '../../src/domain/durations.js';

describe('scopes', () => {
  const queueWriter: Scope[] = [{ resource: 'messages', access: 'write', targets: ['q1'] }];

  it('write implies read; read does not imply write', () => {
    assert.ok(allows(queueWriter, 'messages', 'read', ['q1']));
    assert.ok(!allows([{ resource: 'queues', access: 'read', targets: ['*'] }], 'queues', 'write', []));
  });

  it('a queue target covers what lies below the queue, and nothing else', () => {
    assert.ok(allows(queueWriter, 'messages', 'write', ['q1', 'm1']));
    assert.ok(!allows(queueWriter, 'messages', 'write', ['q2', 'm1']));
    assert.ok(!allows(queueWriter, 'listeners', 'write', ['q1']));
  });

  it('a top-level collection needs the * target', () => {
    assert.ok(!allows(queueWriter, 'messages', 'read', []));
    assert.ok(allows(defaultScopes(), 'messages', 'read', []));
  });

  it('the default set is permissive but holds no protected resource; the full set holds all', () => {
    assert.ok(defaultScopes().every((s) => !isProtected(s) && s.access === 'write'));
    assert.ok(fullScopes().some(isProtected));
    assert.ok(!allows(defaultScopes(), 'api_keys', 'read', []));
  });
});

describe('durations', () => {
  it('reads the spec\'s units and bare milliseconds', () => {
    assert.deepEqual(['500ms', '5s', '2m', '1h', '1d', '250', '1.5s'].map((d) => parseDuration(d)), [500, 5000, 120_000, 3_600_000, 86_400_000, 250, 1500]);
  });
  it('refuses anything else', () => {
    for (const bad of ['5x', '', '-1s', 's', '1 s', '1e3']) assert.equal(parseDuration(bad), undefined, bad);
  });
});
