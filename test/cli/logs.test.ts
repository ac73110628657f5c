import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { TestListener, until } from '../helpers/listener.js';
import { startProcess } from '../helpers/process.js';
import { call } from '../helpers/server.js';

describe('discue serve logs at debug', () => {
  it('log every request and delivery with ids, and never a secret or message data', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'discue-logs-'));
    const listener = await TestListener.start();
    const root = `root-${randomBytes(16).toString('hex')}`;
    const server = await startProcess({ DISCUE_DATA_DIR: dir, DISCUE_ROOT_API_KEY: root, DISCUE_ALLOW_PRIVATE_TARGETS: 'true', DISCUE_LOG_LEVEL: 'debug' });
    t.after(async () => {
      await server.stop('SIGKILL');
      await listener.close();
      rmSync(dir, { recursive: true, force: true });
    });
    const ok = <T extends { status: number; text: string }>(res: T): T => {
      assert.equal(res.status, 200, res.text);
      return res;
    };

    // The walkthrough of the README, each secret and each piece of data distinctive.
    const client = ok(await call(server.url, 'POST', '/v1/api_clients', { key: root, body: { name: 'logs.example.com' } }));
    const key = client.body.api_key as string;
    const second = ok(await call(server.url, 'POST', '/v1/api_keys', { key, body: { name: 'publisher' } }));
    const publisherKey = second.body.api_key as string;
    const queue = ok(await call(server.url, 'POST', '/v1/queues', { key, body: { name: 'users', schema: { user_id: { type: 'string' } } } }));
    const queueId = queue.body.queue.id as string;
    const created = ok(await call(server.url, 'POST', `/v1/queues/${queueId}/listeners`, { key, body: { name: 'hooks', notify_url: `${listener.url}/in`, liveness_url: `${listener.url}/alive` } }));
    const listenerSecret = created.body.listener.secret as string;
    assert.match(listenerSecret, /^whsec_/);
    const token = randomBytes(12).toString('hex');
    const data = JSON.stringify({ user_id: `data-${token}` });
    const message = ok(await call(server.url, 'POST', `/v1/queues/${queueId}/messages`, { key: publisherKey, body: { name: 'user-deleted', data }, headers: { 'idempotency-key': `idem-${randomBytes(4).toString('hex')}` } }));
    await listener.received('/in', 1);
    assert.match(listener.to('/in')[0]!.body, new RegExp(`data-${token}`), 'the data went through the process');
    ok(await call(server.url, 'GET', `/v1/queues/${queueId}/messages/${message.body.message.id}`, { key }));
    ok(await call(server.url, 'GET', '/v1/messages', { key }));
    ok(await call(server.url, 'GET', '/v1/events?events=all', { key }));
    const rotated = ok(await call(server.url, 'POST', `/v1/queues/${queueId}/listeners/${created.body.listener.id}/secret/rotate`, { key }));
    const rotatedSecret = rotated.body.listener.secret as string;
    assert.match(rotatedSecret, /^whsec_/);
    // Refused requests too: a wrong key, data failing the schema.
    const wrongKey = `wrong-${randomBytes(16).toString('hex')}`;
    assert.equal((await call(server.url, 'GET', '/v1/queues', { key: wrongKey })).status, 401);
    const refusedData = JSON.stringify({ user_id: 42, extra: `refused-${token}` });
    assert.equal((await call(server.url, 'POST', `/v1/queues/${queueId}/messages`, { key, body: { data: refusedData } })).status, 422);
    await until(async () => /"delivery attempt"/.test(server.output()), 'the delivery to be logged');

    assert.equal(await server.stop(), 0);
    const everything = server.output() + server.errors();
    const entries = everything
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    // The logs are there: one line per request with its id, and the delivery.
    const requests = entries.filter((e) => e.msg === 'request completed');
    assert.ok(requests.length >= 10, everything);
    assert.ok(requests.every((e) => typeof e.reqId === 'string' && e.reqId !== ''));
    assert.ok(requests.some((e) => e.url === `/v1/queues/${queueId}/messages` && e.statusCode === 422));
    assert.ok(entries.some((e) => e.msg === 'delivery attempt' && e.outcome === 'acknowledged' && e.message === message.body.message.id));

    const secrets = {
      'the root key': root,
      'the first api key': key,
      'the second api key': publisherKey,
      'a wrong api key': wrongKey,
      'the listener secret': listenerSecret,
      'the listener secret without prefix': listenerSecret.replace(/^whsec_/, ''),
      'the rotated listener secret': rotatedSecret.replace(/^whsec_/, ''),
      'the message data': token,
    };
    for (const [what, secret] of Object.entries(secrets)) {
      assert.ok(!everything.includes(secret), `${what} appears in the logs`);
    }
  });
});
