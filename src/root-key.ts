import { fullScopes } from './domain/scopes.js';
import { NotFoundError } from './store/errors.js';
import type { ApiKey, Store } from './store/types.js';
import { newApiKey, newKeySecret } from './tenancy.js';

// Fixed ids: the key from the environment is replaced when the variable changes; the
// generated one is made once.
const ENV_KEY_ID = 'root-env';
const GENERATED_KEY_ID = 'root-generated';

function rootKey(id: string, clientId: string, secret: string, at: number): ApiKey {
  const name = id === ENV_KEY_ID ? 'root key (DISCUE_ROOT_API_KEY)' : 'root key (generated)';
  return newApiKey({ id, clientId, name, secret, scopes: fullScopes() }, at);
}

/**
 * Makes sure the operator has a root key. With `DISCUE_ROOT_API_KEY` that key is stored (as a
 * hash); without it, a key is generated the first time and its secret returned to be printed
 * once. Returns the secret only when it was just generated.
 */
export async function ensureRootKey(store: Store, envSecret: string | undefined, now: number): Promise<string | undefined> {
  const root = await store.rootClient();
  if (envSecret !== undefined) {
    // The variable is the operator's word: the key it names is restored as a full, enabled
    // root key at every start, and a key generated before it stops working.
    await store.upsertKey(rootKey(ENV_KEY_ID, root.id, envSecret, now));
    // Another process starting at once may have deleted it already.
    await store.deleteKey(root.id, GENERATED_KEY_ID, undefined).catch((err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err;
    });
    return undefined;
  }
  if (await store.getKey(root.id, GENERATED_KEY_ID)) return undefined;
  const secret = newKeySecret();
  await store.upsertKey(rootKey(GENERATED_KEY_ID, root.id, secret, now));
  return secret;
}
