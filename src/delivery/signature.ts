import { createHmac } from 'node:crypto';

// Standard Webhooks signatures: HMAC-SHA256 over `id.timestamp.body`, keyed by the secret's
// base64 part after `whsec_`. Written on node:crypto (no library needed for one HMAC; the
// tests verify with the `standardwebhooks` package).

const PREFIX = 'whsec_';

export function sign(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret, 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

export interface SigningSecrets {
  secret: string;
  previous_secret: string | null;
  previous_secret_until: number | null;
}

/** The `webhook-signature` value: the current secret's, and the previous one's while it overlaps. */
export function signatureHeader(secrets: SigningSecrets, id: string, timestampSeconds: number, body: string, now: number): string {
  const signatures = [sign(secrets.secret, id, timestampSeconds, body)];
  if (secrets.previous_secret && (secrets.previous_secret_until ?? 0) > now) {
    signatures.push(sign(secrets.previous_secret, id, timestampSeconds, body));
  }
  return signatures.join(' ');
}
