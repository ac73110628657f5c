import { timingSafeEqual } from 'node:crypto';
import type { ApiClient, ApiKey, Store } from '../store/types.js';
import { hashKey } from '../tenancy.js';

export interface Principal {
  key: ApiKey;
  client: ApiClient;
}

interface Cached {
  principal: Principal;
  expiresAt: number;
}

const CACHE_LIMIT = 10_000;

/**
 * Finds the key behind a secret, with a short cache so a busy key costs no query per request.
 * Changes made through this process take effect at once (`forget`); changes made by another
 * process within `ttlMs`. `last_used_at` is collected in memory and written in batches.
 */
export class KeyAuthenticator {
  private readonly cache = new Map<string, Cached>();
  private readonly lastUsed = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly now: () => number,
    private readonly ttlMs = 2_000,
  ) {}

  async authenticate(secret: string): Promise<Principal | undefined> {
    const hash = hashKey(secret);
    const at = this.now();
    let entry = this.cache.get(hash);
    if (!entry || entry.expiresAt <= at) {
      const found = await this.store.findKeyByHash(hash);
      if (!found) return undefined;
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      entry = { principal: found, expiresAt: at + this.ttlMs };
      this.cache.set(hash, entry);
    }
    if (!timingSafeEqual(Buffer.from(entry.principal.key.key_hash), Buffer.from(hash))) return undefined;
    this.lastUsed.set(entry.principal.key.id, at);
    return entry.principal;
  }

  /** Drops cached keys, of one client or all, after they changed. */
  forget(clientId?: string): void {
    for (const [hash, entry] of this.cache) {
      if (clientId === undefined || entry.principal.client.id === clientId) this.cache.delete(hash);
    }
  }

  /** The freshest `last_used_at`, including uses not yet written. */
  lastUsedAt(key: ApiKey): number | null {
    return this.lastUsed.get(key.id) ?? key.last_used_at;
  }

  async flushLastUsed(): Promise<void> {
    if (this.lastUsed.size === 0) return;
    const batch = new Map(this.lastUsed);
    this.lastUsed.clear();
    await this.store.recordKeyUse(batch);
  }
}
