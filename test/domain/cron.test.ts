import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseCron } from '../../src/domain/cron.js';
import { deliveryTime, MAX_SCHEDULE_AHEAD_MS } from '../../src/domain/delivery-time.js';

/** The next `count` ticks after `from`, as ISO instants. */
function ticks(cron: string, zone: string, from: string, count: number): string[] {
  const parsed = parseCron(cron, zone);
  assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
  const out: string[] = [];
  let at = Date.parse(from);
  for (let i = 0; i < count; i++) {
    at = parsed.schedule.next(at)!;
    out.push(new Date(at).toISOString());
  }
  return out;
}

describe('cron', () => {
  it('reads five fields, six with seconds, and macros', () => {
    assert.deepEqual(ticks('*/15 * * * *', 'UTC', '2026-01-01T00:07:00Z', 2), ['2026-01-01T00:15:00.000Z', '2026-01-01T00:30:00.000Z']);
    assert.deepEqual(ticks('*/2 * * * * *', 'UTC', '2026-01-01T00:00:00.500Z', 2), ['2026-01-01T00:00:02.000Z', '2026-01-01T00:00:04.000Z']);
    assert.deepEqual(ticks('@hourly', 'UTC', '2026-01-01T00:10:00Z', 1), ['2026-01-01T01:00:00.000Z']);
    assert.deepEqual(ticks('@daily', 'UTC', '2026-01-01T00:10:00Z', 1), ['2026-01-02T00:00:00.000Z']);
  });

  it('says what is wrong with a bad expression or zone', () => {
    for (const [cron, zone, why] of [
      ['61 * * * *', 'UTC', /invalid/],
      ['* * *', 'UTC', /5 fields/],
      ['* * * * * * * *', 'UTC', /5 fields/],
      ['@sometimes', 'UTC', /invalid/],
      ['* * * * *', 'Mars/Olympus_Mons', /not an IANA time zone/],
    ] as const) {
      const parsed = parseCron(cron, zone);
      assert.ok(!parsed.ok, cron);
      assert.match(parsed.reason, why);
    }
  });

  describe('Europe/Berlin across daylight saving changes (2026)', () => {
    it('fires at 09:00 local time on both sides of each change', () => {
      // CET is UTC+1, CEST UTC+2: 09:00 local is 08:00Z before 29 March and 07:00Z after.
      assert.deepEqual(ticks('0 9 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', 2), ['2026-03-29T07:00:00.000Z', '2026-03-30T07:00:00.000Z']);
      assert.deepEqual(ticks('0 9 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 2), ['2026-10-25T08:00:00.000Z', '2026-10-26T08:00:00.000Z']);
    });

    it('fires a time skipped in spring at the next valid instant, once', () => {
      // 02:30 does not exist on 29 March: the clocks jump from 02:00 to 03:00 (01:00Z).
      assert.deepEqual(ticks('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', 2), ['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z']);
    });

    it('fires a time repeated in autumn once', () => {
      // 02:30 happens twice on 25 October (00:30Z in CEST, 01:30Z in CET): one tick, the first.
      assert.deepEqual(ticks('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 2), ['2026-10-25T00:30:00.000Z', '2026-10-26T01:30:00.000Z']);
    });

    it('fires an hourly schedule every real hour through the repeated hour', () => {
      assert.deepEqual(ticks('0 * * * *', 'Europe/Berlin', '2026-10-24T23:30:00Z', 3), ['2026-10-25T00:00:00.000Z', '2026-10-25T01:00:00.000Z', '2026-10-25T02:00:00.000Z']);
    });
  });
});

describe('deliveryTime', () => {
  const now = 1_800_000_000_000;
  it('is now by default, later by a delay, or at deliver_at', () => {
    assert.deepEqual(deliveryTime({}, now), { ok: true, at: now });
    assert.deepEqual(deliveryTime({ delay: '30s' }, now), { ok: true, at: now + 30_000 });
    assert.deepEqual(deliveryTime({ delay: 250 }, now), { ok: true, at: now + 250 });
    assert.deepEqual(deliveryTime({ deliver_at: now + 5 }, now), { ok: true, at: now + 5 });
  });
  it('treats a time in the past as now', () => {
    assert.deepEqual(deliveryTime({ deliver_at: now - 60_000 }, now), { ok: true, at: now });
  });
  it('refuses both at once (400), a bad duration (400), and more than a year ahead (422)', () => {
    assert.equal((deliveryTime({ delay: '1s', deliver_at: now }, now) as { status: number }).status, 400);
    assert.equal((deliveryTime({ delay: 'soon' }, now) as { status: number }).status, 400);
    assert.equal((deliveryTime({ deliver_at: now + MAX_SCHEDULE_AHEAD_MS + 1 }, now) as { status: number }).status, 422);
  });
});
