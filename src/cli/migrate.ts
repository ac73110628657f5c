import { MIGRATIONS } from '../store/migrations.js';
import { PostgresStore } from '../store/postgres/store.js';
import { SqliteStore } from '../store/sqlite/store.js';
import type { Store } from '../store/types.js';
import { HELP_FLAG, withStore, type Command } from './command.js';

interface Applied {
  version: number;
  applied_at: number;
}

/** The migrations a store has applied, from the table both stores keep them in. */
async function appliedMigrations(store: Store): Promise<Applied[]> {
  const sql = 'SELECT version, applied_at FROM schema_migrations ORDER BY version';
  if (store instanceof SqliteStore) return store.db.prepare(sql).all() as Applied[];
  if (store instanceof PostgresStore) return (await store.pool.query<Applied>(sql)).rows.map((r) => ({ version: Number(r.version), applied_at: Number(r.applied_at) }));
  throw new Error('unknown kind of store');
}

async function migrate(): Promise<void> {
  // Opening a store applies its pending migrations (under a lock on PostgreSQL, so this may
  // run beside starting processes); those stamped since this run began were applied by it.
  const started = Date.now();
  const applied = await withStore((store) => appliedMigrations(store));
  const version = Math.max(0, ...applied.map((m) => m.version));
  const now = applied.filter((m) => m.applied_at >= started).map((m) => m.version);
  const latest = Math.max(...MIGRATIONS.map((m) => m.version));
  if (now.length === 0) {
    process.stdout.write(`the store is up to date (schema version ${version})\n`);
  } else {
    process.stdout.write(`migrated the store to schema version ${version} (applied ${now.join(', ')})\n`);
  }
  if (version > latest) process.stderr.write(`discue: note: the store's schema (version ${version}) is newer than this discue knows (${latest})\n`);
}

export const migrateCommand: Command = {
  name: 'migrate',
  synopsis: 'migrate',
  summary: "apply the store's pending migrations, then exit",
  usage: `Usage: discue migrate

Opens the store (DISCUE_DATA_DIR, or DISCUE_DATABASE_URL), applies the migrations it lacks
and prints the schema version, or that it was up to date. \`discue serve\` and \`discue
worker\` migrate when they start too; run this to migrate ahead of a rollout.

Options:
${HELP_FLAG}`,
  run: () => migrate(),
};
