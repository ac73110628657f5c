import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sample } from '../helpers/app.js';
import { TestListener, until } from '../helpers/listener.js';
import { startProcess } from '../helpers/process.js';
import { call } from '../helpers/server.js';

describe('discue serve operations', () => {
  it('serves /ready, /openapi.json and /metrics, counting its worker\'s deliveries', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'discue-cli-'));
    const listener = await TestListener.start();
    const root = 'operator-root-key-0123456789';
    const server = await startProcess({ DISCUE_DATA_DIR: dir, DISCUE_ROOT_API_KEY: root, DISCUE_ALLOW_PRIVATE_TARGETS: 'true', DISCUE_METRICS_TOKEN: 'scrape-token-0123456789' });
    t.after(async () => {
      await server.stop();
      await listener.close();
      rmSync(dir, { recursive: true, force: true });
    });
    assert.equal((await call(server.url, 'GET', '/ready', { key: null })).status, 200);
    assert.equal((await call(server.url, 'GET', '/openapi.json', { key: null })).body.openapi, '3.1.0');

    const client = await call(server.url, 'POST', '/v1/api_clients', { key: root, body: { name: 'cli.example.com' } });
    const key = client.body.api_key as string;
    const queue = await call(server.url, 'POST', '/v1/queues', { key, body: { name: 'q' } });
    await call(server.url, 'POST', `/v1/queues/${queue.body.queue.id}/listeners`, { key, body: { name: 'l', notify_url: `${listener.url}/in`, liveness_url: `${listener.url}/alive` } });
    await call(server.url, 'POST', `/v1/queues/${queue.body.queue.id}/messages`, { key, body: { data: 'hello' } });
    await listener.received('/in', 1);

    const scrape = () => fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer scrape-token-0123456789' } }).then((r) => r.text());
    const text = await until(async () => (await scrape().then((m) => sample(m, 'discue_deliveries_total{outcome="acknowledged"}') === 1 && m)), 'the acknowledgement counted');
    assert.equal(sample(text, 'discue_messages_published_total'), 1);
    assert.equal(sample(text, 'discue_delivery_latency_seconds_count'), 1);
    assert.equal((await fetch(`${server.url}/metrics`)).status, 401);
  });
});
