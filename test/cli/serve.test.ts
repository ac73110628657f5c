import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCommand, startProcess } from '../helpers/process.js';
import { call } from '../helpers/server.js';

describe('discue serve', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'discue-cli-'));
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('prints a root key the first time only, and data survives a restart', async (t) => {
    const first = await startProcess({ DISCUE_DATA_DIR: dataDir });
    t.after(() => first.stop('SIGKILL'));
    const rootKey = /root api key[^\n]*\n\n\s+(\S+)/.exec(first.output())?.[1];
    assert.ok(rootKey, first.output());
    const health = await call(first.url, 'GET', '/health', { key: null });
    assert.equal(health.status, 200);
    const client = await call(first.url, 'POST', '/v1/api_clients', { key: rootKey, body: { name: 'restart.example.com' } });
    assert.equal(client.status, 200, client.text);
    const key = client.body.api_key as string;
    const queue = await call(first.url, 'POST', '/v1/queues', { key, body: { name: 'durable' } });
    const message = await call(first.url, 'POST', `/v1/queues/${queue.body.queue.id}/messages`, { key, body: { data: 'kept' } });
    assert.equal(message.status, 200);
    // SIGKILL: nothing gets a chance to flush; a 200 must already be on disk.
    assert.equal(await first.stop('SIGKILL'), null);

    const second = await startProcess({ DISCUE_DATA_DIR: dataDir });
    t.after(() => second.stop('SIGKILL'));
    try {
      assert.doesNotMatch(second.output(), /root api key/);
      const stored = await call(second.url, 'GET', `/v1/queues/${queue.body.queue.id}/messages/${message.body.message.id}`, { key });
      assert.equal(stored.status, 200, stored.text);
      assert.equal(stored.body.message.data, 'kept');
      assert.equal((await call(second.url, 'GET', '/v1/api_clients', { key: rootKey })).status, 200);
    } finally {
      assert.equal(await second.stop(), 0);
    }
  });

  it('uses DISCUE_ROOT_API_KEY when set and prints no key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'discue-cli-'));
    const server = await startProcess({ DISCUE_DATA_DIR: dir, DISCUE_ROOT_API_KEY: 'operator-chosen-root-key-1234' });
    try {
      assert.doesNotMatch(server.output(), /root api key/);
      const clients = await call(server.url, 'GET', '/api_clients', { key: 'operator-chosen-root-key-1234' });
      assert.equal(clients.status, 200);
    } finally {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('exits non-zero with one line naming a bad variable', async () => {
    const result = await runCommand({ DISCUE_RETRY_SCHEDULE: '5x', DISCUE_DATA_DIR: dataDir }, ['serve']);
    assert.equal(result.code, 1);
    assert.match(result.stderr.trim(), /^discue: DISCUE_RETRY_SCHEDULE=5x is invalid: expected .+$/);
  });

  it('rejects an unknown command with usage', async () => {
    const result = await runCommand({}, ['frobnicate']);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /unknown command "frobnicate"/);
  });
});
