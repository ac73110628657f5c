import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../src/config.js';

describe('config', () => {
  it('has working defaults', () => {
    const config = loadConfig({});
    assert.equal(config.port, 3000);
    assert.equal(config.rateLimitPerMinute, 6000);
    assert.equal(config.maxDataBytes, 1_048_576);
    assert.equal(config.allowPrivateTargets, false);
    assert.ok(config.retrySchedule.reduce((a, b) => a + b, 0) > 20 * 3_600_000, 'about a day of retries');
  });

  it('parses every kind of value', () => {
    const config = loadConfig({
      PORT: '8080',
      DISCUE_RETRY_SCHEDULE: '1s,500ms,2m',
      DISCUE_DELIVERY_TIMEOUT: '3s',
      DISCUE_ALLOW_PRIVATE_TARGETS: 'true',
      DISCUE_MAX_DATA_SIZE: '64KiB',
      DISCUE_PUBLIC_URL: 'https://q.example.com/v1/',
    });
    assert.equal(config.port, 8080);
    assert.deepEqual(config.retrySchedule, [1000, 500, 120_000]);
    assert.equal(config.deliveryTimeoutMs, 3000);
    assert.equal(config.allowPrivateTargets, true);
    assert.equal(config.maxDataBytes, 65_536);
    assert.equal(config.publicUrl, 'https://q.example.com/v1');
  });

  for (const [name, value] of [
    ['DISCUE_RETRY_SCHEDULE', '5x'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['DISCUE_ALLOW_PRIVATE_TARGETS', 'yes please'],
    ['DISCUE_PUBLIC_URL', 'ftp://x'],
    ['DISCUE_DATABASE_URL', 'mysql://x'],
    ['DISCUE_ROOT_API_KEY', 'short'],
    ['DISCUE_RATE_LIMIT_PER_MINUTE', '1.5'],
    ['DISCUE_LOG_LEVEL', 'loud'],
  ]) {
    it(`refuses ${name}=${value} naming the variable`, () => {
      assert.throws(() => loadConfig({ [name!]: value }), (err: Error) => err instanceof ConfigError && err.message.startsWith(`${name}=${value} is invalid: expected`));
    });
  }
});
