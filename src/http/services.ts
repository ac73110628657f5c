import type { Config } from '../config.js';
import type { SchemaCache } from '../domain/schema-cache.js';
import type { HostResolver } from '../domain/target-url.js';
import type { Store } from '../store/types.js';
import type { KeyAuthenticator } from './keys.js';

/** What route handlers use; built once by app.ts. */
export interface Services {
  config: Config;
  store: Store;
  keys: KeyAuthenticator;
  schemas: SchemaCache;
  resolveHost: HostResolver;
  now: () => number;
  /** New deliveries were stored: the worker should look now. */
  onPublished: () => void;
  /** A schedule was added or changed: the scheduler should look now. */
  onScheduled: () => void;
  /** Set when the server begins to shut down: new requests get 503. */
  draining: boolean;
}
