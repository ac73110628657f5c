import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sample, startApp, type TestApp } from '../helpers/app.js';
import { TestListener, until } from '../helpers/listener.js';

const scrape = async (server: TestApp, headers: Record<string, string> = {}) => {
  const response = await fetch(`${server.url}/metrics`, { headers });
  return { status: response.status, type: response.headers.get('content-type'), headers: response.headers, text: await response.text() };
};

describe('/metrics', () => {
  let server: TestApp;
  let listener: TestListener;

  before(async () => {
    listener = await TestListener.start({ '/fail': () => ({ status: 500 }) });
    server = await startApp({ DISCUE_RETRY_SCHEDULE: '20ms', DISCUE_LIVENESS_INTERVAL: '1h' }, { delivery: true });
  });
  after(async () => {
    await server.close();
    await listener.close();
  });

  it('answers the Prometheus text format, without a key, with the process metrics', async () => {
    const metrics = await scrape(server);
    assert.equal(metrics.status, 200);
    assert.match(metrics.type!, /^text\/plain; version=0\.0\.4/);
    assert.match(metrics.text, /^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
    assert.match(metrics.text, /^process_resident_memory_bytes \d+/m);
  });

  it('times requests by route pattern and status code, and counts publishes, deliveries by outcome and their latency', async () => {
    const client = await server.call('POST', '/api_clients', { body: { name: 'metrics.example.com' } });
    const key = client.body.api_key as string;
    const queue = await server.call('POST', '/v1/queues', { key, body: { name: 'q' } });
    const queueId = queue.body.queue.id as string;
    for (const [name, path] of [['ok', '/ok'], ['failing', '/fail']]) {
      const created = await server.call('POST', `/v1/queues/${queueId}/listeners`, { key, body: { name, notify_url: `${listener.url}${path}`, liveness_url: `${listener.url}/alive` } });
      assert.equal(created.status, 200, created.text);
    }
    const published = await Promise.all([1, 2, 3].map((n) => server.call('POST', `/v1/queues/${queueId}/messages`, { key, body: { data: `m${n}` } })));
    assert.deepEqual(published.map((p) => p.status), [200, 200, 200]);
    assert.equal((await server.call('GET', `/v1/queues/${queueId}`, { key })).status, 200);
    assert.equal((await server.call('GET', `/v1/queues/nope`, { key })).status, 404);

    // Each message: one acknowledgement, and one failure retried once then missed.
    const done = () => scrape(server).then((m) => sample(m.text, 'discue_deliveries_total{outcome="missed"}') === 3 && m.text);
    const text = await until(done, 'three missed deliveries');
    assert.equal(sample(text, 'discue_messages_published_total'), 3);
    assert.equal(sample(text, 'discue_deliveries_total{outcome="acknowledged"}'), 3);
    assert.equal(sample(text, 'discue_deliveries_total{outcome="retry"}'), 3);
    assert.equal(sample(text, 'discue_delivery_latency_seconds_count'), 3);
    assert.ok(sample(text, 'discue_delivery_latency_seconds_sum')! < 10);
    const series = (route: string, status: number, method = 'GET') => `discue_http_request_duration_seconds_count{method="${method}",route="${route}",status_code="${status}"}`;
    assert.equal(sample(text, series('/v1/queues/:queue_id/messages', 200, 'POST')), 3);
    assert.equal(sample(text, series('/v1/queues/:queue_id', 200)), 1);
    assert.equal(sample(text, series('/v1/queues/:queue_id', 404)), 1, 'by pattern, not by the URL asked for');
    assert.equal(sample(text, series('/api_clients', 200, 'POST')), 1);
    assert.doesNotMatch(text, /route="\/v1\/queues\/nope"/);
  });

  it('gauges pending deliveries and listeners by liveness state when scraped', async () => {
    const client = await server.call('POST', '/api_clients', { body: { name: 'backlog.example.com' } });
    const key = client.body.api_key as string;
    const queue = await server.call('POST', '/queues', { key, body: { name: 'later' } });
    const queueId = queue.body.queue.id as string;
    await server.call('POST', `/queues/${queueId}/listeners`, { key, body: { name: 'l', notify_url: `${listener.url}/later`, liveness_url: `${listener.url}/alive` } });
    const before = sample((await scrape(server)).text, 'discue_deliveries_pending')!;
    await server.call('POST', `/queues/${queueId}/messages`, { key, body: { data: 'x', delay: '1h' } });
    const text = (await scrape(server)).text;
    assert.equal(sample(text, 'discue_deliveries_pending'), before + 1);
    assert.equal(sample(text, 'discue_listeners{state="stable"}'), 3);
    assert.equal(sample(text, 'discue_listeners{state="dead"}'), 0);
  });
});

describe('/metrics with DISCUE_METRICS_TOKEN', () => {
  const token = 'metrics-token-0123456789';
  let server: TestApp;
  before(async () => (server = await startApp({ DISCUE_METRICS_TOKEN: token })));
  after(() => server.close());

  it('answers 401 in the API error shape without the bearer token or with another one', async () => {
    const attempts: Record<string, string>[] = [{}, { authorization: 'Bearer not-the-token' }, { authorization: token }, { 'x-api-key': token }];
    for (const headers of attempts) {
      const refused = await scrape(server, headers);
      assert.equal(refused.status, 401, JSON.stringify(headers));
      assert.equal(refused.headers.get('www-authenticate'), 'Bearer realm="metrics"');
      const body = JSON.parse(refused.text);
      assert.equal(body.title, 'Unauthorized');
      assert.equal(body.status, 401);
    }
  });

  it('answers the metrics with it', async () => {
    const metrics = await scrape(server, { authorization: `Bearer ${token}` });
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /discue_messages_published_total 0/);
  });
});
