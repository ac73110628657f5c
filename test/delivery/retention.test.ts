import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { purgeExpired } from '../../src/delivery/service.js';
import { openSqliteStore, type SqliteStore } from '../../src/store/sqlite/store.js';
import type { Listener, Message } from '../../src/store/types.js';

const at = 1_000_000;

function message(id: string, queueId: string, createdAt: number): Message {
  return { id, client_id: 'c', queue_id: queueId, name: null, data: 'x', deliver_at: null, schedule_id: null, created_at: createdAt, updated_at: createdAt, revision: 1 };
}

const event = (id: string) => ({ id, client_id: 'c', type: 'message_added' as const, stored_at: at });

describe('retention', () => {
  const dir = mkdtempSync(join(tmpdir(), 'discue-retention-'));
  let store: SqliteStore;

  before(async () => {
    store = openSqliteStore(dir);
    const client = { id: 'c', name: 'c.example.com', is_root: false, status: 'active' as const, quotas: {}, created_at: at, updated_at: at, revision: 1 };
    const key = { id: 'k', client_id: 'c', name: 'k', key_prefix: 'abc', key_hash: 'h', status: 'enabled' as const, scopes: [], created_at: at, updated_at: at, last_used_at: null, revision: 1 };
    await store.createClient(client, key, { id: 'e0', client_id: 'c', type: 'api_key_added', stored_at: at });
    await store.createQueue({ id: 'q', client_id: 'c', name: 'q', schema: null, schema_id: null, created_at: at, updated_at: at, revision: 1 }, { id: 'e1', client_id: 'c', type: 'queue_added', stored_at: at }, 10);
    const listener: Listener = {
      id: 'l', client_id: 'c', queue_id: 'q', name: 'l', notify_url: 'http://127.0.0.1:9/', liveness_url: 'http://127.0.0.1:9/', secret: 'whsec_x',
      liveness_state: 'stable', liveness_success_count: 0, liveness_failure_count: 0, acknowledged_count: 0, missed_count: 0,
      previous_secret: null, previous_secret_until: null, liveness_streak: 0, next_probe_at: at, created_at: at, updated_at: at, revision: 1,
    };
    await store.createListener(listener, { id: 'e2', client_id: 'c', type: 'listener_added', stored_at: at }, 10);
  });
  after(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('purges old acknowledged messages in batches and keeps pending, missed and recent ones', async () => {
    // 2,500 old messages all acknowledged: more than two purge batches. Unclaimed, a delivery's
    // lease is its due time, the message's creation.
    for (let i = 0; i < 2500; i++) await store.createMessage(message(`old-${i}`, 'q', at + i), event(`ev-old-${i}`));
    await store.recordOutcomes(Array.from({ length: 2500 }, (_, i) => ({ kind: 'acknowledged' as const, messageId: `old-${i}`, listenerId: 'l', lease: at + i, at: at + 5000, status: 200, error: null })));
    await store.createMessage(message('old-pending', 'q', at), event('ev-p'));
    await store.createMessage(message('old-missed', 'q', at), event('ev-m'));
    await store.recordOutcomes([{ kind: 'missed', messageId: 'old-missed', listenerId: 'l', lease: at, at: at + 1, status: 500, error: null }]);
    await store.createMessage(message('recent', 'q', at + 100_000), event('ev-r'));
    await store.recordOutcomes([{ kind: 'acknowledged', messageId: 'recent', listenerId: 'l', lease: at + 100_000, at: at + 100_001, status: 200, error: null }]);

    assert.equal(await purgeExpired(store, at + 50_000), 2500);
    const left = await store.listMessages('c', 'q', { offset: 0, limit: 100 });
    assert.deepEqual(left.items.map((m) => m.id).sort(), ['old-missed', 'old-pending', 'recent']);
  });
});
