// Versioned schema of the embedded store. A migration is never edited once released: add one.
export const SQLITE_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE api_clients (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        is_root INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        quotas TEXT NOT NULL DEFAULT '{}',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        revision INTEGER NOT NULL DEFAULT 1
      );
      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES api_clients(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        key_prefix TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_used_at INTEGER,
        revision INTEGER NOT NULL DEFAULT 1
      );
      CREATE INDEX api_keys_by_client ON api_keys(client_id, created_at, id);
      CREATE TABLE queues (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES api_clients(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        schema TEXT,
        schema_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        revision INTEGER NOT NULL DEFAULT 1,
        UNIQUE (client_id, name)
      );
      CREATE INDEX queues_by_client ON queues(client_id, created_at, id);
      CREATE TABLE listeners (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES api_clients(id) ON DELETE CASCADE,
        queue_id TEXT NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        notify_url TEXT NOT NULL,
        liveness_url TEXT NOT NULL,
        secret TEXT NOT NULL,
        liveness_state TEXT NOT NULL DEFAULT 'stable',
        liveness_success_count INTEGER NOT NULL DEFAULT 0,
        liveness_failure_count INTEGER NOT NULL DEFAULT 0,
        acknowledged_count INTEGER NOT NULL DEFAULT 0,
        missed_count INTEGER NOT NULL DEFAULT 0,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        revision INTEGER NOT NULL DEFAULT 1,
        UNIQUE (queue_id, name)
      );
      CREATE INDEX listeners_by_client ON listeners(client_id, created_at, id);
      CREATE INDEX listeners_by_queue ON listeners(queue_id, created_at, id);
      CREATE TABLE messages (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES api_clients(id) ON DELETE CASCADE,
        queue_id TEXT NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
        name TEXT,
        data TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        revision INTEGER NOT NULL DEFAULT 1
      );
      CREATE INDEX messages_by_client ON messages(client_id, created_at, id);
      CREATE INDEX messages_by_queue ON messages(queue_id, created_at, id);
      CREATE TABLE usage_events (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES api_clients(id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        category TEXT NOT NULL,
        stored_at INTEGER NOT NULL,
        refs TEXT NOT NULL
      );
      CREATE INDEX usage_events_by_client ON usage_events(client_id, stored_at, id);
      CREATE INDEX usage_events_by_category ON usage_events(client_id, category, stored_at, id);
      CREATE INDEX usage_events_by_time ON usage_events(stored_at);
    `,
  },
];
