import { randomBytes } from 'node:crypto';

/** A short, URL-safe, random id: 96 bits in 16 characters. */
export function newId(): string {
  return randomBytes(12).toString('base64url');
}
