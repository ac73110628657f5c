import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createLogger, prettyLine } from '../src/logging.js';
import { ensureRootKey } from '../src/root-key.js';
import { openSqliteStore } from '../src/store/sqlite/store.js';
import { call, ROOT_KEY } from './helpers/server.js';

describe('logs on a terminal', () => {
  const line = (fields: Record<string, unknown>) => JSON.stringify({ level: 30, time: new Date(2026, 0, 2, 3, 4, 5, 6).getTime(), pid: 1, hostname: 'h', ...fields });

  it('are one readable line per entry: time, level, message, fields', () => {
    assert.equal(prettyLine(line({ reqId: 'r-1', msg: 'request completed', url: '/v1/queues', statusCode: 200, note: 'two words' })), '03:04:05.006 INFO  request completed reqId=r-1 url=/v1/queues statusCode=200 note="two words"\n');
  });

  it('put an error\'s stack below its line, and color the level when asked', () => {
    const text = prettyLine(line({ level: 50, msg: 'unexpected failure', reqId: 'r-2', err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x (y.ts:1)' } }), true);
    assert.equal(text, '03:04:05.006 \x1b[31mERROR\x1b[0m unexpected failure reqId=r-2\n    Error: boom\n        at x (y.ts:1)\n');
  });

  it('pass what is not a log entry as it is', () => {
    assert.equal(prettyLine('not json\n'), 'not json\n');
  });

  it('are what the logger writes to a TTY; NO_COLOR turns colors off', () => {
    const written: string[] = [];
    const logger = createLogger('info', { isTTY: true, write: (text: string) => written.push(text) }, { NO_COLOR: '1' });
    logger.info({ queue: 'q1' }, 'hello');
    logger.debug('below the level');
    assert.equal(written.length, 1);
    assert.match(written[0]!, /^\d\d:\d\d:\d\d\.\d{3} INFO  hello queue=q1\n$/);
  });
});

describe('request ids', () => {
  it('are on every answer (X-Request-Id) and on the error log of a failed request', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'discue-logging-'));
    const config = loadConfig({ DISCUE_DATA_DIR: dir, DISCUE_ROOT_API_KEY: ROOT_KEY, DISCUE_RATE_LIMIT_PER_MINUTE: '0' });
    const store = openSqliteStore(config.dataDir);
    await ensureRootKey(store, config.rootApiKey, Date.now());
    const faulty = Object.create(store) as typeof store;
    faulty.listQueues = async () => {
      throw new Error('boom');
    };
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const { app } = buildApp({ config, store: faulty, logger });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    t.after(async () => {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const failed = await call(url, 'GET', '/v1/queues');
    assert.equal(failed.status, 500);
    const failedId = failed.headers.get('x-request-id');
    assert.match(String(failedId), /^[0-9a-f-]{36}$/);
    const error = lines.find((l) => l.msg === 'unexpected failure');
    assert.ok(error, JSON.stringify(lines));
    assert.equal(error.level, 50);
    assert.equal(error.reqId, failedId);
    assert.match(String((error.err as { stack: string }).stack), /boom/);

    const fine = await call(url, 'GET', '/v1/api_keys');
    const fineId = fine.headers.get('x-request-id');
    assert.notEqual(fineId, failedId);
    assert.ok(lines.some((l) => l.msg === 'request completed' && l.reqId === fineId && l.statusCode === 200));
    // Answers the guard refuses carry one too.
    assert.match(String((await call(url, 'GET', '/v1/queues', { key: 'unknown' })).headers.get('x-request-id')), /^[0-9a-f-]{36}$/);
  });
});
