import { createHash, randomBytes } from 'node:crypto';
import type { Quotas } from './config.js';
import { ref, usageEvent } from './domain/events.js';
import { newId } from './domain/ids.js';
import { defaultScopes, fullScopes, type Scope } from './domain/scopes.js';
import type { ApiClient, ApiKey, Store } from './store/types.js';

// Api clients and their keys as every entry point creates them: the API (POST /api_clients,
// POST /api_keys), the command line (discue clients create, discue keys create) and the root
// key at start.

/** A new api key secret: 256 random bits, URL-safe. */
export function newKeySecret(): string {
  return randomBytes(32).toString('base64url');
}

// Secrets carry 256 random bits, so one round of SHA-256 is as strong as a slow hash here and
// keeps authentication off the CPU's critical path.
export function hashKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** A new key row for a secret: only its hash and first 3 characters are kept. */
export function newApiKey(fields: { clientId: string; name: string; secret: string; scopes: Scope[]; status?: ApiKey['status']; id?: string }, at: number): ApiKey {
  return {
    id: fields.id ?? newId(),
    client_id: fields.clientId,
    name: fields.name,
    key_prefix: fields.secret.slice(0, 3),
    key_hash: hashKey(fields.secret),
    status: fields.status ?? 'enabled',
    scopes: fields.scopes,
    created_at: at,
    updated_at: at,
    last_used_at: null,
    revision: 1,
  };
}

/** A created key with its secret, which exists only here: the store keeps its hash. */
export interface NewKey {
  key: ApiKey;
  secret: string;
}

/**
 * Creates an api client with its first key, which holds every scope (protected ones included)
 * so the organization can manage itself; `api_key_added` is recorded in the same transaction.
 * A taken name throws the store's DuplicateError.
 */
export async function createApiClient(
  store: Store,
  fields: { name: string; status?: ApiClient['status']; quotas?: ApiClient['quotas'] },
  at: number,
): Promise<NewKey & { client: ApiClient }> {
  const client: ApiClient = {
    id: newId(),
    name: fields.name,
    is_root: false,
    status: fields.status ?? 'active',
    quotas: fields.quotas ?? {},
    created_at: at,
    updated_at: at,
    revision: 1,
  };
  const secret = newKeySecret();
  const key = newApiKey({ clientId: client.id, name: 'initial key', secret, scopes: fullScopes() }, at);
  await store.createClient(client, key, usageEvent('api_key_added', client.id, at, { api_key: ref(key) }));
  return { client, key, secret };
}

/**
 * Creates a key for a client, within its api key quota (the client's own, else the operator's
 * default): QuotaExceededError beyond it. Without scopes it gets the default ones.
 */
export async function createApiKey(
  store: Store,
  client: ApiClient,
  fields: { name: string; scopes?: Scope[]; status?: ApiKey['status'] },
  defaults: Quotas,
  at: number,
): Promise<NewKey> {
  const secret = newKeySecret();
  const key = newApiKey({ clientId: client.id, name: fields.name, secret, scopes: fields.scopes ?? defaultScopes(), status: fields.status }, at);
  const maxKeys = client.quotas.max_api_keys ?? defaults.max_api_keys;
  await store.createKey(key, usageEvent('api_key_added', client.id, at, { api_key: ref(key) }), maxKeys);
  return { key, secret };
}
