import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { TestListener, until } from '../helpers/listener.js';
import { startServer, type TestServer } from '../helpers/server.js';

interface Setup {
  key: string;
  queueId: string;
}

/** A fresh client with one queue. */
async function tenant(server: TestServer, name: string): Promise<Setup> {
  const client = await server.call('POST', '/api_clients', { body: { name } });
  const key = client.body.api_key as string;
  const queue = await server.call('POST', '/queues', { key, body: { name: 'q' } });
  return { key, queueId: queue.body.queue.id };
}

async function addListener(server: TestServer, t: Setup, name: string, notifyUrl: string, livenessUrl = notifyUrl) {
  const created = await server.call('POST', `/queues/${t.queueId}/listeners`, { key: t.key, body: { name, notify_url: notifyUrl, liveness_url: livenessUrl } });
  assert.equal(created.status, 200, created.text);
  return created.body.listener as { id: string; secret: string };
}

async function publish(server: TestServer, t: Setup, data: string, name = 'm'): Promise<string> {
  const published = await server.call('POST', `/queues/${t.queueId}/messages`, { key: t.key, body: { name, data } });
  assert.equal(published.status, 200, published.text);
  return published.body.message.id as string;
}

const getListener = (server: TestServer, t: Setup, id: string) => server.call('GET', `/queues/${t.queueId}/listeners/${id}`, { key: t.key }).then((r) => r.body.listener);
const getMessage = (server: TestServer, t: Setup, id: string) => server.call('GET', `/queues/${t.queueId}/messages/${id}`, { key: t.key }).then((r) => r.body.message);

function deliveryTo(message: { deliveries: { listener: { id: string }; state: string; attempts: number }[] }, listenerId: string) {
  return message.deliveries.find((d) => d.listener.id === listenerId);
}

describe('broadcast delivery', () => {
  let server: TestServer;
  let listener: TestListener;

  before(async () => {
    listener = await TestListener.start();
    server = await startServer(
      { DISCUE_RETRY_SCHEDULE: '30ms,30ms', DISCUE_DELIVERY_TIMEOUT: '500ms', DISCUE_LIVENESS_INTERVAL: '1h', DISCUE_LISTENER_CONCURRENCY: '2' },
      undefined,
      { delivery: true },
    );
  });
  after(async () => {
    await server.close();
    await listener.close();
  });

  it('delivers the documented payload, signed as Standard Webhooks, and counts the acknowledgement', async () => {
    const t = await tenant(server, 'ok.example.com');
    const l = await addListener(server, t, 'ok', `${listener.url}/ok`);
    const id = await publish(server, t, '{"user":"ann"}', 'user-created');
    await listener.received('/ok', 1);

    const [request] = listener.to('/ok');
    assert.equal(request!.method, 'POST');
    assert.match(String(request!.headers['content-type']), /^application\/json/);
    const verified = new Webhook(l.secret).verify(request!.body, request!.headers as Record<string, string>) as Record<string, any>;
    assert.equal(request!.headers['webhook-id'], id);
    assert.deepEqual(Object.keys(verified.message).sort(), ['created_at', 'data', 'id', 'name']);
    assert.equal(verified.message.id, id);
    assert.equal(verified.message.name, 'user-created');
    assert.equal(verified.message.data, '{"user":"ann"}');
    assert.deepEqual(verified.queue, { id: t.queueId, name: 'q' });

    const message = await until(async () => {
      const m = await getMessage(server, t, id);
      return deliveryTo(m, l.id)?.state === 'acknowledged' && m;
    }, 'the acknowledgement');
    assert.equal(deliveryTo(message, l.id)!.attempts, 1);
    assert.equal((await getListener(server, t, l.id)).messages.acknowledged_count, 1);
    const events = await server.call('GET', '/events?events=messages', { key: t.key });
    assert.ok(events.body.events.some((e: { type: string; message: { id: string } }) => e.type === 'message_published_ok' && e.message.id === id));
    const stats = await server.call('GET', '/stats/messages', { key: t.key });
    assert.equal(stats.body.aggregated_api_usage_events.last_1_hours.message_published_ok, 1);
  });

  it('retries a 500 with the same webhook-id until a 2xx', async () => {
    listener.behaviour['/flaky'] = (_r, i) => ({ status: i === 0 ? 500 : 204 });
    const t = await tenant(server, 'flaky.example.com');
    const l = await addListener(server, t, 'flaky', `${listener.url}/flaky`);
    const id = await publish(server, t, 'x');
    await listener.received('/flaky', 2);
    const [first, second] = listener.to('/flaky');
    assert.equal(first!.headers['webhook-id'], id);
    assert.equal(second!.headers['webhook-id'], id);
    const message = await until(async () => {
      const m = await getMessage(server, t, id);
      return deliveryTo(m, l.id)?.state === 'acknowledged' && m;
    }, 'the acknowledgement');
    assert.equal(deliveryTo(message, l.id)!.attempts, 2);
  });

  it('retries a listener that does not answer within the timeout', async () => {
    let release!: () => void;
    const never = new Promise<void>((resolve) => (release = resolve));
    listener.behaviour['/slow-once'] = (_r, i) => (i === 0 ? { status: 200, after: never } : { status: 200 });
    const t = await tenant(server, 'timeout.example.com');
    const l = await addListener(server, t, 'slow-once', `${listener.url}/slow-once`);
    const id = await publish(server, t, 'x');
    await listener.received('/slow-once', 2);
    release();
    const message = await until(async () => {
      const m = await getMessage(server, t, id);
      return deliveryTo(m, l.id)?.state === 'acknowledged' && m;
    }, 'the acknowledgement');
    assert.equal(deliveryTo(message, l.id)!.attempts, 2);
  });

  it('records a message as missed when the schedule is used up, and redelivers it on request', async () => {
    const t = await tenant(server, 'refused.example.com');
    // Port 9 (discard) is closed here: every attempt is refused.
    const l = await addListener(server, t, 'refused', 'http://127.0.0.1:9/nothing', `${listener.url}/alive`);
    const id = await publish(server, t, 'x');
    const missed = await until(async () => {
      const view = await getListener(server, t, l.id);
      return view.messages.missed_count === 1 && view;
    }, 'the message to be missed');
    assert.deepEqual(missed.messages.missed, [id]);
    const message = await getMessage(server, t, id);
    assert.equal(deliveryTo(message, l.id)!.state, 'missed');
    assert.equal(deliveryTo(message, l.id)!.attempts, 3, 'one attempt and two retries');
    assert.match(String(message.deliveries[0].last_error), /ECONNREFUSED/);
    const events = await server.call('GET', '/events?events=messages', { key: t.key });
    assert.ok(events.body.events.some((e: { type: string }) => e.type === 'message_published_not_ok'));

    await server.call('PUT', `/queues/${t.queueId}/listeners/${l.id}`, { key: t.key, body: { notify_url: `${listener.url}/fixed` } });
    const redelivered = await server.call('POST', `/queues/${t.queueId}/listeners/${l.id}/redeliver`, { key: t.key });
    assert.equal(redelivered.status, 200, redelivered.text);
    assert.equal(redelivered.body.redelivered, 1);
    await listener.received('/fixed', 1);
    assert.equal(listener.to('/fixed')[0]!.headers['webhook-id'], id);
    const after = await until(async () => {
      const view = await getListener(server, t, l.id);
      return view.messages.acknowledged_count === 1 && view;
    }, 'the redelivery to be acknowledged');
    assert.equal(after.messages.missed_count, 0);
    assert.deepEqual(after.messages.missed, []);
  });

  it('redelivers only the listed messages', async () => {
    const t = await tenant(server, 'listed.example.com');
    const l = await addListener(server, t, 'refused', 'http://127.0.0.1:9/nothing', `${listener.url}/alive`);
    const ids = [await publish(server, t, 'a'), await publish(server, t, 'b')];
    await until(async () => (await getListener(server, t, l.id)).messages.missed_count === 2, 'both to be missed');
    const redelivered = await server.call('POST', `/queues/${t.queueId}/listeners/${l.id}/redeliver`, { key: t.key, body: { message_ids: [ids[1], 'unknown'] } });
    assert.equal(redelivered.body.redelivered, 1);
    assert.equal(deliveryTo(await getMessage(server, t, ids[0]!), l.id)!.state, 'missed');
    assert.notEqual(deliveryTo(await getMessage(server, t, ids[1]!), l.id)!.state, 'missed');
  });

  it('keeps a fast listener fast beside one that never answers', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    listener.behaviour['/stuck'] = () => ({ status: 200, after: gate });
    const t = await tenant(server, 'fairness.example.com');
    await addListener(server, t, 'stuck', `${listener.url}/stuck`);
    await addListener(server, t, 'fast', `${listener.url}/fast`);
    for (let i = 0; i < 10; i++) await publish(server, t, `m${i}`);
    await listener.received('/fast', 10);
    assert.ok(listener.to('/stuck').length <= 2 + 2, 'the stuck listener holds at most its concurrency (plus timed-out retries)');
    release();
  });

  it('does not send a message to a listener created after it', async () => {
    const t = await tenant(server, 'late.example.com');
    await addListener(server, t, 'early', `${listener.url}/early`);
    const first = await publish(server, t, 'before');
    await addListener(server, t, 'late', `${listener.url}/late`);
    const second = await publish(server, t, 'after');
    await listener.received('/early', 2);
    await listener.received('/late', 1);
    assert.deepEqual(listener.to('/late').map((r) => r.headers['webhook-id']), [second]);
    assert.deepEqual(listener.to('/early').map((r) => r.headers['webhook-id']).sort(), [first, second].sort());
  });

  it('signs with both secrets for a while after a rotation', async () => {
    const t = await tenant(server, 'rotate.example.com');
    const l = await addListener(server, t, 'rotating', `${listener.url}/rotating`);
    const rotated = await server.call('POST', `/queues/${t.queueId}/listeners/${l.id}/secret/rotate`, { key: t.key });
    assert.equal(rotated.status, 200, rotated.text);
    const newSecret = rotated.body.listener.secret as string;
    assert.match(newSecret, /^whsec_/);
    assert.notEqual(newSecret, l.secret);
    await publish(server, t, 'signed twice');
    await listener.received('/rotating', 1);
    const [request] = listener.to('/rotating');
    assert.equal(String(request!.headers['webhook-signature']).split(' ').length, 2);
    for (const secret of [newSecret, l.secret]) new Webhook(secret).verify(request!.body, request!.headers as Record<string, string>);
  });

  it('honours Retry-After from a 429', async () => {
    listener.behaviour['/busy'] = (_r, i) => (i === 0 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 });
    const t = await tenant(server, 'busy.example.com');
    await addListener(server, t, 'busy', `${listener.url}/busy`);
    await publish(server, t, 'x');
    await listener.received('/busy', 2);
    const [first, second] = listener.to('/busy');
    assert.ok(second!.at - first!.at >= 990, `retried after ${second!.at - first!.at} ms instead of the schedule's 30 ms`);
  });

  it('cancels pending deliveries when the message is deleted', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    listener.behaviour['/cancel'] = () => ({ status: 500, after: gate });
    const t = await tenant(server, 'cancel.example.com');
    const l = await addListener(server, t, 'cancel', `${listener.url}/cancel`);
    const id = await publish(server, t, 'x');
    await listener.received('/cancel', 1);
    assert.equal((await server.call('DELETE', `/queues/${t.queueId}/messages/${id}`, { key: t.key })).status, 200);
    release();
    // The failed attempt's outcome finds no delivery to reschedule, so nothing is sent again.
    await until(async () => (await server.call('GET', `/queues/${t.queueId}/messages/${id}`, { key: t.key })).status === 404, 'deletion');
    const view = await getListener(server, t, l.id);
    assert.equal(view.messages.missed_count, 0);
    assert.equal(listener.to('/cancel').length, 1);
  });
});

describe('liveness', () => {
  let server: TestServer;
  let listener: TestListener;
  let alive = false;

  before(async () => {
    listener = await TestListener.start({ '/health': () => ({ status: alive ? 200 : 503 }) });
    server = await startServer({ DISCUE_LIVENESS_INTERVAL: '100ms', DISCUE_RETRY_SCHEDULE: '20ms' }, undefined, { delivery: true });
  });
  after(async () => {
    await server.close();
    await listener.close();
  });

  it('holds a dead listener\'s deliveries without burning attempts, and resumes when it is live', async () => {
    const t = await tenant(server, 'dead.example.com');
    const l = await addListener(server, t, 'sleepy', `${listener.url}/notify`, `${listener.url}/health`);
    const dead = await until(async () => {
      const view = await getListener(server, t, l.id);
      return view.liveness.state === 'dead' && view;
    }, 'the listener to be dead');
    assert.ok(dead.liveness.failure_count >= 3);

    const id = await publish(server, t, 'waits');
    const held = deliveryTo(await getMessage(server, t, id), l.id)!;
    assert.equal(held.state, 'held');
    assert.equal(held.attempts, 0);
    assert.equal(listener.to('/notify').length, 0);

    alive = true;
    await listener.received('/notify', 1);
    assert.equal(listener.to('/notify')[0]!.headers['webhook-id'], id);
    const revived = await getListener(server, t, l.id);
    assert.notEqual(revived.liveness.state, 'dead');
    assert.ok(revived.liveness.success_count >= 1);
  });
});
