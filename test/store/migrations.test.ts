import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { openSqliteStore } from '../../src/store/sqlite/store.js';

describe('migrations', () => {
  const dir = mkdtempSync(join(tmpdir(), 'discue-migrations-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('an older store keeps its usage events through the migrations after its version', async () => {
    const old = new Database(join(dir, 'discue.sqlite3'));
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
    for (const m of MIGRATIONS.filter((m) => m.version <= 4)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)').run(m.version);
    }
    old.prepare("INSERT INTO api_clients (id, name, status, created_at, updated_at) VALUES ('c1', 'old', 'active', 1, 1)").run();
    old.prepare("INSERT INTO usage_events (id, client_id, type, category, stored_at, refs) VALUES ('e1', 'c1', 'queue_added', 'queues', 5, '{}')").run();
    old.close();

    const store = openSqliteStore(dir);
    try {
      const events = await store.listEvents({ clientId: 'c1', category: undefined, after: { at: 0, id: '' }, limit: 10 });
      assert.deepEqual(events.map((e) => [e.id, e.type, e.stored_at]), [['e1', 'queue_added', 5]]);
      assert.equal(await store.purgeEventsBefore(10, 100), 1, 'purged by time without the old key');
    } finally {
      await store.close();
    }
  });
});
