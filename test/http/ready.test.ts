import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startApp } from '../helpers/app.js';
import type { Store } from '../../src/store/types.js';

/** The store with its readiness query replaced. */
const withNextDueAt = (nextDueAt: () => Promise<number | undefined>) => (store: Store) =>
  new Proxy(store, { get: (target, name, receiver) => (name === 'nextDueAt' ? nextDueAt : Reflect.get(target, name, receiver)) });

function assertUnavailable(answer: { status: number; headers: Headers; body: any }) {
  assert.equal(answer.status, 503);
  assert.equal(answer.headers.get('retry-after'), '5');
  assert.equal(answer.body.title, 'Service Unavailable');
  assert.equal(answer.body.status, 503);
  assert.equal(typeof answer.body.detail, 'string');
}

describe('/ready', () => {
  it('answers 200 without a key, at both prefixes, while the store answers', async () => {
    const server = await startApp();
    try {
      for (const path of ['/ready', '/v1/ready']) {
        const ready = await server.call('GET', path, { key: null });
        assert.equal(ready.status, 200, ready.text);
        assert.equal(ready.body.status, 'ready');
        assert.equal(ready.body._links.self.href, `${server.url}/ready`);
      }
    } finally {
      await server.close();
    }
  });

  it('answers 503 with Retry-After when the store fails, while /health stays 200', async () => {
    const server = await startApp();
    try {
      await server.store.close();
      assertUnavailable(await server.call('GET', '/ready', { key: null }));
      assert.equal((await server.call('GET', '/health', { key: null })).status, 200);
    } finally {
      await server.close();
    }
  });

  it('answers 503 when the store does not answer in time', async () => {
    const server = await startApp({}, { wrapStore: withNextDueAt(() => new Promise(() => {})) });
    try {
      assertUnavailable(await server.call('GET', '/ready', { key: null }));
    } finally {
      await server.close();
    }
  });

  it('answers 503 while the server drains', async () => {
    const server = await startApp();
    try {
      server.services.draining = true;
      assertUnavailable(await server.call('GET', '/ready', { key: null }));
    } finally {
      server.services.draining = false;
      await server.close();
    }
  });
});
