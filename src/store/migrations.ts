// Versioned schema of both stores, in SQL that SQLite and PostgreSQL read alike (BIGINT for
// epoch milliseconds, TEXT for JSON). A migration is never edited once released: add one.
export const MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE api_clients (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        is_root INTEGER NOT NULL DEFAULT 0,
        status TEXT NOT NULL,
        quotas TEXT NOT NULL DEFAULT '{}',
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
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
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        last_used_at BIGINT,
        revision INTEGER NOT NULL DEFAULT 1
      );
      CREATE INDEX api_keys_by_client ON api_keys(client_id, created_at, id);
      CREATE TABLE queues (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES api_clients(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        schema TEXT,
        schema_id TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
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
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
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
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        revision INTEGER NOT NULL DEFAULT 1
      );
      CREATE INDEX messages_by_client ON messages(client_id, created_at, id);
      CREATE INDEX messages_by_queue ON messages(queue_id, created_at, id);
      CREATE TABLE usage_events (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES api_clients(id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        category TEXT NOT NULL,
        stored_at BIGINT NOT NULL,
        refs TEXT NOT NULL
      );
      CREATE INDEX usage_events_by_client ON usage_events(client_id, stored_at, id);
      CREATE INDEX usage_events_by_category ON usage_events(client_id, category, stored_at, id);
      CREATE INDEX usage_events_by_time ON usage_events(stored_at);
    `,
  },
  {
    version: 2,
    sql: `
      -- One row per (message, listener that existed when the message was stored). state:
      -- pending (due at due_at; a claim pushes due_at forward as a lease), held (the listener
      -- is dead: waits without burning attempts), acknowledged, missed.
      CREATE TABLE deliveries (
        message_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        listener_id TEXT NOT NULL REFERENCES listeners(id) ON DELETE CASCADE,
        state TEXT NOT NULL,
        due_at BIGINT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_status INTEGER,
        last_error TEXT,
        last_attempt_at BIGINT,
        completed_at BIGINT,
        PRIMARY KEY (message_id, listener_id)
      );
      CREATE INDEX deliveries_due ON deliveries(due_at) WHERE state = 'pending';
      CREATE INDEX deliveries_by_listener ON deliveries(listener_id, state, completed_at);
      ALTER TABLE listeners ADD COLUMN previous_secret TEXT;
      ALTER TABLE listeners ADD COLUMN previous_secret_until BIGINT;
      ALTER TABLE listeners ADD COLUMN liveness_streak INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE listeners ADD COLUMN next_probe_at BIGINT NOT NULL DEFAULT 0;
      CREATE INDEX listeners_probe_due ON listeners(next_probe_at);
    `,
  },
  {
    version: 3,
    sql: `
      ALTER TABLE messages ADD COLUMN deliver_at BIGINT;
      ALTER TABLE messages ADD COLUMN schedule_id TEXT;
      CREATE TABLE schedules (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL REFERENCES api_clients(id) ON DELETE CASCADE,
        queue_id TEXT NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        cron TEXT NOT NULL,
        timezone TEXT NOT NULL,
        data TEXT NOT NULL,
        message_name TEXT,
        status TEXT NOT NULL,
        next_run_at BIGINT,
        last_run_at BIGINT,
        run_count INTEGER NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        revision INTEGER NOT NULL DEFAULT 1,
        UNIQUE (queue_id, name)
      );
      CREATE INDEX schedules_by_queue ON schedules(queue_id, created_at, id);
      CREATE INDEX schedules_by_client ON schedules(client_id);
      CREATE INDEX schedules_due ON schedules(next_run_at) WHERE status = 'enabled';
    `,
  },
  {
    version: 4,
    sql: `
      -- A publish with an Idempotency-Key: repeats within 24 hours get the first answer.
      CREATE TABLE idempotency_keys (
        client_id TEXT NOT NULL REFERENCES api_clients(id) ON DELETE CASCADE,
        key TEXT NOT NULL,
        request_hash TEXT NOT NULL,
        response TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        PRIMARY KEY (client_id, key)
      );
      CREATE INDEX idempotency_keys_by_time ON idempotency_keys(created_at);
      CREATE INDEX messages_by_time ON messages(created_at);
      -- Pending deliveries by listener: finds each listener's due work behind another's backlog.
      CREATE INDEX deliveries_ready ON deliveries(listener_id, due_at) WHERE state = 'pending';
    `,
  },
  {
    version: 5,
    sql: `
      -- Usage events lose the primary key on their id: nothing looks an event up by id, and a
      -- random key puts every insert (one per publish and per delivery) on a random index page.
      CREATE TABLE usage_events_v5 (
        id TEXT NOT NULL,
        client_id TEXT NOT NULL REFERENCES api_clients(id) ON DELETE CASCADE,
        type TEXT NOT NULL,
        category TEXT NOT NULL,
        stored_at BIGINT NOT NULL,
        refs TEXT NOT NULL
      );
      INSERT INTO usage_events_v5 (id, client_id, type, category, stored_at, refs)
        SELECT id, client_id, type, category, stored_at, refs FROM usage_events;
      DROP TABLE usage_events;
      ALTER TABLE usage_events_v5 RENAME TO usage_events;
      CREATE INDEX usage_events_by_client ON usage_events(client_id, stored_at, id);
      CREATE INDEX usage_events_by_category ON usage_events(client_id, category, stored_at, id);
      CREATE INDEX usage_events_by_time ON usage_events(stored_at);
      -- The due head of the claim reads (due_at, listener_id) from the index alone.
      DROP INDEX deliveries_due;
      CREATE INDEX deliveries_due ON deliveries(due_at, listener_id) WHERE state = 'pending';
    `,
  },
];
