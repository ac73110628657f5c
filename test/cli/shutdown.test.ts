import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { TestListener, until } from '../helpers/listener.js';
import { startProcess, type ServerProcess } from '../helpers/process.js';
import { call } from '../helpers/server.js';

const ROOT = 'operator-root-key-0123456789';

/** A raw HTTP/1.1 connection: what it wrote, and what came back. */
async function openConnection(baseUrl: string) {
  const { hostname, port } = new URL(baseUrl);
  const socket = connect(Number(port), hostname);
  await once(socket, 'connect');
  let received = '';
  const waiters: { pattern: RegExp; resolve: (text: string) => void }[] = [];
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    received += chunk;
    for (const w of waiters.filter((w) => w.pattern.test(received))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(received);
    }
  });
  return {
    write: (text: string) => socket.write(text),
    /** Resolves with everything received once it matches `pattern`. */
    receive: (pattern: RegExp) => (pattern.test(received) ? Promise.resolve(received) : new Promise<string>((resolve) => waiters.push({ pattern, resolve }))),
    close: () => socket.destroy(),
  };
}

/**
 * What a new connection to the server gets now: the status of `GET /ready` on it, or
 * `refused` when the server no longer accepts connections (`closed` when it dropped it).
 */
function probe(baseUrl: string): Promise<number | 'refused' | 'closed'> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let received = '';
    const timer = setTimeout(() => reject(new Error('the probe got no answer')), 5_000);
    const done = (value: number | 'refused' | 'closed') => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write('GET /ready HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'));
    socket.on('data', (chunk: string) => {
      received += chunk;
      const status = /^HTTP\/1\.1 (\d{3}) /.exec(received);
      if (status) done(Number(status[1]));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNREFUSED' ? done('refused') : done('closed')));
    socket.on('close', () => done('closed'));
  });
}

/** Waits until the server turns new connections away, as it does once it drains; returns how. */
const turnedAway = (server: ServerProcess) =>
  until(async () => {
    const answer = await probe(server.url);
    return answer === 200 ? undefined : String(answer);
  }, 'the server to turn new connections away');

interface Setup {
  server: ServerProcess;
  key: string;
  queueId: string;
  dir: string;
}

async function startWithQueue(t: TestContext, env: Record<string, string> = {}, dir = mkdtempSync(join(tmpdir(), 'discue-shutdown-'))): Promise<Setup> {
  const server = await startProcess({ DISCUE_DATA_DIR: dir, DISCUE_ROOT_API_KEY: ROOT, DISCUE_ALLOW_PRIVATE_TARGETS: 'true', DISCUE_RATE_LIMIT_PER_MINUTE: '0', ...env });
  t.after(() => server.stop('SIGKILL'));
  const client = await call(server.url, 'POST', '/v1/api_clients', { key: ROOT, body: { name: 'shutdown.example.com' } });
  assert.equal(client.status, 200, client.text);
  const key = client.body.api_key as string;
  const queue = await call(server.url, 'POST', '/v1/queues', { key, body: { name: 'q' } });
  assert.equal(queue.status, 200, queue.text);
  return { server, key, queueId: queue.body.queue.id, dir };
}

describe('discue serve on SIGTERM', () => {
  it('finishes a request in flight with 200, turns new connections away, and exits 0', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'discue-shutdown-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const { server, key, queueId } = await startWithQueue(t, {}, dir);

    // `Expect: 100-continue`: the server says "100 Continue" once it has taken the request, so
    // the request is in flight, waiting for its body, when the signal arrives.
    const body = JSON.stringify({ name: 'in-flight', data: 'published during shutdown' });
    const connection = await openConnection(server.url);
    t.after(() => connection.close());
    connection.write(
      `POST /v1/queues/${queueId}/messages HTTP/1.1\r\nHost: t\r\nX-API-KEY: ${key}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nExpect: 100-continue\r\n\r\n`,
    );
    await connection.receive(/^HTTP\/1\.1 100 Continue\r\n\r\n/);

    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    assert.match(await turnedAway(server), /^(refused|closed|503)$/);
    assert.equal(server.child.exitCode, null, 'the process waits for the request in flight');

    connection.write(body);
    const response = await connection.receive(/\r\n\r\n\{.*\}$/s);
    assert.match(response, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/);
    const published = JSON.parse(response.slice(response.lastIndexOf('\r\n\r\n') + 4));
    assert.equal(published.message.name, 'in-flight');
    const [code] = await exited;
    assert.equal(code, 0, server.output());

    // The message is stored: a restarted server has it.
    const again = await startProcess({ DISCUE_DATA_DIR: dir, DISCUE_ROOT_API_KEY: ROOT });
    t.after(() => again.stop('SIGKILL'));
    const stored = await call(again.url, 'GET', `/v1/queues/${queueId}/messages/${published.message.id}`, { key });
    assert.equal(stored.body.message.data, 'published during shutdown', stored.text);
    assert.equal(await again.stop(), 0);
  });

  it('finishes a delivery in flight and records it before exiting 0', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'discue-shutdown-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const listener = await TestListener.start({ '/in': () => ({ status: 200, after: released }) });
    t.after(() => listener.close());
    const { server, key, queueId } = await startWithQueue(t, {}, dir);
    const created = await call(server.url, 'POST', `/v1/queues/${queueId}/listeners`, { key, body: { name: 'slow', notify_url: `${listener.url}/in`, liveness_url: `${listener.url}/alive` } });
    assert.equal(created.status, 200, created.text);
    const message = await call(server.url, 'POST', `/v1/queues/${queueId}/messages`, { key, body: { data: 'sent during shutdown' } });
    await listener.received('/in', 1);

    const exited = once(server.child, 'exit');
    server.child.kill('SIGTERM');
    await turnedAway(server);
    assert.equal(server.child.exitCode, null, 'the process waits for the delivery in flight');
    release();
    const [code] = await exited;
    assert.equal(code, 0, server.output());

    const again = await startProcess({ DISCUE_DATA_DIR: dir, DISCUE_ROOT_API_KEY: ROOT });
    t.after(() => again.stop('SIGKILL'));
    const stored = await call(again.url, 'GET', `/v1/queues/${queueId}/messages/${message.body.message.id}`, { key });
    assert.equal(stored.body.message.deliveries[0].state, 'acknowledged', stored.text);
    assert.equal(listener.to('/in').length, 1);
  });

  it('exits 1 after DISCUE_SHUTDOWN_TIMEOUT, logging what was unfinished', async (t) => {
    const listener = await TestListener.start({ '/in': () => ({ status: 200, after: new Promise<void>(() => {}) }) });
    t.after(() => listener.close());
    const { server, key, queueId, dir } = await startWithQueue(t, { DISCUE_SHUTDOWN_TIMEOUT: '300ms' });
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    await call(server.url, 'POST', `/v1/queues/${queueId}/listeners`, { key, body: { name: 'stuck', notify_url: `${listener.url}/in`, liveness_url: `${listener.url}/alive` } });
    await call(server.url, 'POST', `/v1/queues/${queueId}/messages`, { key, body: { data: 'never acknowledged' } });
    await listener.received('/in', 1);

    const started = Date.now();
    assert.equal(await server.stop('SIGTERM'), 1);
    assert.ok(Date.now() - started >= 300, 'it waited for the timeout');
    const logged = server
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => String(entry.msg).startsWith('shutdown timed out'));
    assert.ok(logged, server.output());
    assert.equal(logged.level, 50);
    assert.equal(logged.deliveries, 1);
    assert.equal(logged.requests, 0);
    assert.equal(logged.timeout, '300ms');
  });
});
