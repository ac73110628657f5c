import { randomFillSync } from 'node:crypto';

// Random bytes are drawn a pool at a time: one call per few hundred ids instead of one per
// id, which showed in profiles of publishing and delivering (ids per message and usage event).
const pool = Buffer.alloc(4096);
let used = pool.length;

function randomChars(bytes: number): string {
  if (used + bytes > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  used += bytes;
  return pool.toString('base64url', used - bytes, used);
}

/** A short, URL-safe, random id: 96 bits in 16 characters. */
export function newId(): string {
  return randomChars(12);
}

/**
 * A URL-safe id that sorts by creation time: the millisecond in base 36 (9 characters, in
 * order as text until the year 5188), then 72 random bits in 12 characters. Messages take
 * these: each publish then adds to the end of the id indexes instead of to a random page,
 * which made publishing about 20% faster on SQLite.
 */
export function newTimeOrderedId(at: number): string {
  return at.toString(36).padStart(9, '0') + randomChars(9);
}
