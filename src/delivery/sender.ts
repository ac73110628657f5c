import { lookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { isPublicAddress } from '../domain/target-url.js';

export interface SendResult {
  /** The listener's HTTP status, or null when no answer came (refused, timeout, refused target). */
  status: number | null;
  error: string | null;
  retryAfter: string | undefined;
}

// A listener's answer body is read up to this much and discarded: only the status matters.
const MAX_RESPONSE_BYTES = 16 * 1024;

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * Resolves like dns.lookup, but refuses non-public addresses: the check made when a listener
 * URL was accepted is made again for the address actually connected to (DNS rebinding).
 */
function publicOnlyLookup(hostname: string, options: LookupOptions, callback: LookupCallback): void {
  lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const refused = addresses.find((a) => !isPublicAddress(a.address));
    if (refused) {
      const error: NodeJS.ErrnoException = new Error(`${hostname} resolves to a non-public address`);
      error.code = 'ENOTPUBLIC';
      return callback(error, []);
    }
    if (options.all) return callback(null, addresses);
    return callback(null, addresses[0]!.address, addresses[0]!.family);
  });
}

/**
 * Outgoing HTTP to listeners over pooled keep-alive connections (one pool per origin), with
 * a timeout, no redirects, and a capped read of the answer.
 */
export class HttpSender {
  private readonly agent: Agent;

  constructor(
    private readonly timeoutMs: number,
    private readonly allowPrivate: boolean,
  ) {
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      connections: 64,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connect: { timeout: timeoutMs, ...(allowPrivate ? {} : { lookup: publicOnlyLookup }) },
    });
  }

  async send(method: 'GET' | 'POST', url: string, headers: Record<string, string>, body?: string): Promise<SendResult> {
    const refused = this.refusedLiteral(url);
    if (refused) return { status: null, error: refused, retryAfter: undefined };
    try {
      const response = await request(url, {
        method,
        headers,
        body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await response.body.dump({ limit: MAX_RESPONSE_BYTES });
      const retryAfter = response.headers['retry-after'];
      return { status: response.statusCode, error: null, retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter };
    } catch (err) {
      return { status: null, error: describe(err), retryAfter: undefined };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** Literal IP hosts skip DNS, so the connect-time lookup cannot check them. */
  private refusedLiteral(url: string): string | undefined {
    if (this.allowPrivate) return undefined;
    const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
    return isIP(host) !== 0 && !isPublicAddress(host) ? `${host} is not a public address` : undefined;
  }
}

function describe(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return 'timeout';
  const code = e.code ?? e.cause?.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  return (code ? `${code}: ${message}` : message).slice(0, 500);
}
