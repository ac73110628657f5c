import type { Config } from '../config.js';
import { openPostgresStore } from './postgres/store.js';
import { openSqliteStore } from './sqlite/store.js';
import type { Store } from './types.js';

/** PostgreSQL when `DISCUE_DATABASE_URL` is set, else the embedded SQLite store. */
export async function openStore(config: Config): Promise<Store> {
  if (config.databaseUrl) {
    return openPostgresStore({ url: config.databaseUrl, poolSize: config.databasePoolSize, statementTimeoutMs: config.databaseStatementTimeoutMs });
  }
  return openSqliteStore(config.dataDir);
}
