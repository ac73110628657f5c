import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { runCommand } from '../helpers/process.js';

// The one-shot commands on PostgreSQL: the same as on the embedded store.

describe('discue migrate, clients create, keys create on PostgreSQL', () => {
  let postgres: TestPostgres;
  let env: Record<string, string>;

  before(async () => {
    postgres = await startPostgres();
    env = { DISCUE_DATABASE_URL: await postgres.database('cli') };
  });
  after(() => postgres.stop());

  it('migrates once, then creates a client and a key', async () => {
    const first = await runCommand(env, ['migrate']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^migrated the store to schema version \d+ \(applied 1, [\d, ]+\)\n$/);
    const second = await runCommand(env, ['migrate']);
    assert.match(second.stdout, /^the store is up to date \(schema version \d+\)\n$/);

    const created = await runCommand(env, ['clients', 'create', 'pg.example.com']);
    assert.equal(created.code, 0, created.stderr);
    const clientId = /^api_client_id=(\S+)$/m.exec(created.stdout)![1]!;
    const duplicate = await runCommand(env, ['clients', 'create', 'pg.example.com']);
    assert.equal(duplicate.code, 1);
    assert.match(duplicate.stderr, /already exists/);
    const key = await runCommand(env, ['keys', 'create', '--client', clientId]);
    assert.equal(key.code, 0, key.stderr);
    assert.match(key.stdout, /^api_key_id=\S+\napi_key=\S{43}\n$/);
  });
});
