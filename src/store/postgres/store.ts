import pg from 'pg';
import { nextLiveness } from '../../domain/liveness.js';
import { DuplicateError, NotFoundError, QuotaExceededError, RevisionConflictError } from '../errors.js';
import {
  bindable,
  eventCategory,
  LISTENERS_WITH_PENDING,
  MUTABLE,
  newRootClient,
  roomFor,
  tallyByWindow,
  takeWithRoom,
  toClient,
  toDeliveryView,
  toEvent,
  toIdempotentPublish,
  toJob,
  toKey,
  toListener,
  toMessage,
  toQueue,
  toSchedule,
  type Row,
} from '../rows.js';
import type {
  ApiClient,
  ApiKey,
  ClaimRequest,
  ClientPatch,
  DeliveryJob,
  DeliveryOutcome,
  DeliveryView,
  EventCounts,
  EventQuery,
  KeyPatch,
  Listener,
  ListenerPatch,
  LivenessChange,
  LivenessState,
  IdempotentPublish,
  Message,
  MessagePatch,
  Page,
  PageOf,
  ProbeTarget,
  Queue,
  QueuePatch,
  Schedule,
  SchedulePatch,
  StatsWindows,
  Store,
  Tick,
  Update,
  UsageEvent,
} from '../types.js';
import { MIGRATIONS } from '../migrations.js';

type Client = pg.Pool | pg.PoolClient;

export interface PostgresOptions {
  url: string;
  poolSize: number;
  statementTimeoutMs: number;
}

// New deliveries and changed schedules are announced on this channel, so workers in other
// processes wake at once instead of at their next poll.
const WORK_CHANNEL = 'discue_work';
// Held while migrating, so many processes starting at once migrate once.
const MIGRATION_LOCK = 7_349_112_055;

// Epoch milliseconds are BIGINT: read them as numbers (exact up to 2^53, i.e. year 287,396).
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

export async function openPostgresStore(options: PostgresOptions): Promise<PostgresStore> {
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    statement_timeout: options.statementTimeoutMs,
    // An exhausted pool answers 503 after this instead of keeping requests waiting forever.
    connectionTimeoutMillis: 5_000,
    types,
  });
  const store = new PostgresStore(pool, options.url);
  await store.migrate();
  return store;
}

// Connection failures and server shutdowns: worth retrying later (class 08, 57P, 53).
// Deadlocks and serialization failures (40P01, 40001) are transient too: a retry succeeds.
const UNAVAILABLE_CODES = ['08', '57P', '53', '40P01', '40001', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT'];

/**
 * How many rows a claim's head may lock: no more than the listeners with pending work have
 * room for. A locked row costs a write, and a full listener's backlog would be locked and
 * left, a hundred rows a claim (drain 1,005 → 2,160 deliveries/s when this came in). The
 * price is one index seek per listener with pending work, on the database, per claim.
 */
function headLimit(claim: ClaimRequest, room: ReadonlyMap<string, number>, ready: readonly string[]): number {
  const roomInAll = ready.reduce((sum, id) => sum + Math.max(0, room.get(id) ?? claim.perListener), 0);
  return Math.min(claim.limit, roomInAll);
}

/** Due pending deliveries (`$1` now, `$2` how many) that also match `filter`, locked for the claim. */
function claimSelect(filter: string): string {
  return `WITH due AS (
      SELECT message_id, listener_id, attempts FROM deliveries
      WHERE state = 'pending' AND due_at <= $1 AND ${filter}
      ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)
    SELECT due.message_id, due.listener_id, due.attempts, m.id AS m_id, m.name AS m_name, m.data, m.created_at AS m_created_at,
      q.id AS q_id, q.name AS q_name, l.id AS l_id, l.name AS l_name, l.client_id, l.notify_url, l.secret,
      l.previous_secret, l.previous_secret_until
    FROM due JOIN messages m ON m.id = due.message_id JOIN listeners l ON l.id = due.listener_id JOIN queues q ON q.id = m.queue_id`;
}


function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === '23505';
}

/** `$1, $2, …` for `count` values after `offset` of them. */
function placeholders(count: number, offset = 0): string {
  return Array.from({ length: count }, (_, i) => `$${i + offset + 1}`).join(', ');
}

export class PostgresStore implements Store {
  private notifyQueued = false;
  private readonly announceAfterCommit = new WeakSet<pg.PoolClient>();

  constructor(
    readonly pool: pg.Pool,
    private readonly url: string,
  ) {}

  async migrate(): Promise<void> {
    await this.transaction(async (c) => {
      await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
      const applied = new Set((await c.query('SELECT version FROM schema_migrations')).rows.map((r) => r.version as number));
      for (const m of MIGRATIONS) {
        if (applied.has(m.version)) continue;
        await c.query(m.sql);
        await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [m.version, Date.now()]);
      }
    });
  }

  /**
   * Runs `work` in a transaction, again (up to 3 times) when PostgreSQL broke a deadlock.
   * `relaxed` is for delivery bookkeeping (claims, outcomes, probes): its commit does not wait
   * for the WAL flush. A crash may lose its last moments, which at worst sends a message
   * again; the next durable commit flushes it anyway. The same trade as the SQLite store's.
   */
  private async transaction<T>(work: (c: pg.PoolClient) => Promise<T>, relaxed = false): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transactionOnce(work, relaxed);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (attempt >= 3 || (code !== '40P01' && code !== '40001')) throw err;
      }
    }
  }

  private async transactionOnce<T>(work: (c: pg.PoolClient) => Promise<T>, relaxed: boolean): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query(relaxed ? 'BEGIN; SET LOCAL synchronous_commit TO OFF' : 'BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      if (this.announceAfterCommit.delete(client)) this.announceWork();
      return result;
    } catch (err) {
      this.announceAfterCommit.delete(client);
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  private async rows(c: Client, sql: string, params: unknown[] = []): Promise<Row[]> {
    return (await c.query(sql, params)).rows as Row[];
  }

  private async one(c: Client, sql: string, params: unknown[] = []): Promise<Row | undefined> {
    return (await this.rows(c, sql, params))[0];
  }

  private async insert(c: Client, table: string, row: object): Promise<void> {
    const cols = Object.keys(row);
    await c.query(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${placeholders(cols.length)})`, Object.values(row).map(bindable));
  }

  private async insertUnique(c: Client, table: string, row: object, field: string, value: string): Promise<void> {
    try {
      await this.insert(c, table, row);
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateError(field, value);
      throw err;
    }
  }

  private async recordEvent(c: Client, event: UsageEvent | undefined): Promise<void> {
    if (event) await this.recordEvents(c, [event]);
  }

  private async recordEvents(c: Client, events: readonly UsageEvent[]): Promise<void> {
    if (events.length === 0) return;
    const rows = events.map(({ id, client_id, type, stored_at, ...refs }) => [id, client_id, type, eventCategory(type), stored_at, JSON.stringify(refs)] as const);
    await c.query(
      `INSERT INTO usage_events (id, client_id, type, category, stored_at, refs)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])`,
      [0, 1, 2, 3, 4, 5].map((i) => rows.map((row) => row[i])),
    );
  }

  private async pageOf<T>(sql: string, params: unknown[], page: Page, map: (r: Row) => T): Promise<PageOf<T>> {
    const n = params.length;
    const rows = await this.rows(this.pool, `${sql} LIMIT $${n + 1} OFFSET $${n + 2}`, [...params, page.limit + 1, page.offset]);
    return { items: rows.slice(0, page.limit).map(map), hasMore: rows.length > page.limit };
  }

  /** Counts in a transaction holding the client's lock, so concurrent creations respect a quota. */
  private async checkQuota(c: pg.PoolClient, clientId: string, quota: string, limit: number, table: string): Promise<void> {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`quota:${clientId}`]);
    const count = Number((await this.one(c, `SELECT count(*) AS n FROM ${table} WHERE client_id = $1`, [clientId]))!.n);
    if (count >= limit) throw new QuotaExceededError(quota, limit);
  }

  private async updateRow(table: string, where: Record<string, string>, update: Update<object>, uniqueField?: string): Promise<Row> {
    const keys = Object.keys(where);
    const whereSql = keys.map((c, i) => `${c} = $${i + 1}`).join(' AND ');
    const cols = Object.keys(update.patch).filter((c) => MUTABLE[table]!.includes(c));
    const values = cols.map((c) => bindable((update.patch as Record<string, unknown>)[c]));
    try {
      return await this.transaction(async (c) => {
        const current = await this.one(c, `SELECT revision FROM ${table} WHERE ${whereSql} FOR NO KEY UPDATE`, Object.values(where));
        if (!current) throw new NotFoundError(table);
        if (update.expectedRevision !== undefined && update.expectedRevision !== current.revision) {
          throw new RevisionConflictError(current.revision as number);
        }
        const base = keys.length;
        const sets = [...cols.map((col, i) => `${col} = $${base + i + 1}`), `updated_at = $${base + cols.length + 1}`, 'revision = revision + 1'];
        const row = await this.one(c, `UPDATE ${table} SET ${sets.join(', ')} WHERE ${whereSql} RETURNING *`, [...Object.values(where), ...values, update.updatedAt]);
        await this.recordEvent(c, update.event);
        return row!;
      });
    } catch (err) {
      if (isUniqueViolation(err) && uniqueField) {
        throw new DuplicateError(uniqueField, String((update.patch as Record<string, unknown>)[uniqueField]));
      }
      throw err;
    }
  }

  private async deleteRow(table: string, where: Record<string, string>, event: UsageEvent | undefined): Promise<void> {
    const whereSql = Object.keys(where).map((c, i) => `${c} = $${i + 1}`).join(' AND ');
    await this.transaction(async (c) => {
      const { rowCount } = await c.query(`DELETE FROM ${table} WHERE ${whereSql}`, Object.values(where));
      if (!rowCount) throw new NotFoundError(table);
      await this.recordEvent(c, event);
    });
  }

  /** New work in the transaction on `c`: announced once it is committed. */
  private notifyWork(c: Client): void {
    if (c === this.pool) this.announceWork();
    else this.announceAfterCommit.add(c as pg.PoolClient);
  }

  /**
   * Announces new work once per turn of the event loop, after the commits that made it: a
   * NOTIFY inside each transaction would take PostgreSQL's global notification lock at every
   * commit and serialize all publishes.
   */
  private announceWork(): void {
    if (this.notifyQueued) return;
    this.notifyQueued = true;
    setImmediate(() => {
      this.notifyQueued = false;
      // A lost notification costs latency only: workers still poll.
      this.pool.query(`NOTIFY ${WORK_CHANNEL}`).catch(() => undefined);
    });
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  isUnavailable(err: unknown): boolean {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && UNAVAILABLE_CODES.some((c) => code.startsWith(c))) return true;
    return err instanceof Error && /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end/.test(err.message);
  }

  async watchWork(onWork: () => void): Promise<() => Promise<void>> {
    const listener = new pg.Client({ connectionString: this.url, types });
    await listener.connect();
    listener.on('notification', () => onWork());
    // A lost LISTEN connection only costs latency: the poll still finds the work.
    listener.on('error', () => undefined);
    await listener.query(`LISTEN ${WORK_CHANNEL}`);
    return async () => {
      await listener.end().catch(() => undefined);
    };
  }

  // ---- tenancy ---------------------------------------------------------------------------

  async rootClient(): Promise<ApiClient> {
    const root = newRootClient(Date.now());
    await this.pool.query(
      `INSERT INTO api_clients (id, name, is_root, status, quotas, created_at, updated_at, revision)
       VALUES ($1, $2, 1, $3, '{}', $4, $4, 1) ON CONFLICT DO NOTHING`,
      [root.id, root.name, root.status, root.created_at],
    );
    return toClient((await this.one(this.pool, 'SELECT * FROM api_clients WHERE is_root = 1'))!);
  }

  async createClient(client: ApiClient, firstKey: ApiKey, event: UsageEvent): Promise<void> {
    await this.transaction(async (c) => {
      await this.insertUnique(c, 'api_clients', client, 'name', client.name);
      await this.insert(c, 'api_keys', firstKey);
      await this.recordEvent(c, event);
    });
  }

  async getClient(id: string): Promise<ApiClient | undefined> {
    const row = await this.one(this.pool, 'SELECT * FROM api_clients WHERE id = $1', [id]);
    return row && toClient(row);
  }

  async listClients(page: Page): Promise<PageOf<ApiClient>> {
    return this.pageOf('SELECT * FROM api_clients ORDER BY created_at, id', [], page, toClient);
  }

  async updateClient(id: string, update: Update<ClientPatch>): Promise<ApiClient> {
    return toClient(await this.updateRow('api_clients', { id }, update, 'name'));
  }

  async deleteClient(id: string): Promise<void> {
    await this.deleteRow('api_clients', { id }, undefined);
  }

  // ---- api keys --------------------------------------------------------------------------

  async findKeyByHash(hash: string): Promise<{ key: ApiKey; client: ApiClient } | undefined> {
    const key = await this.one(this.pool, 'SELECT * FROM api_keys WHERE key_hash = $1', [hash]);
    if (!key) return undefined;
    const client = await this.one(this.pool, 'SELECT * FROM api_clients WHERE id = $1', [key.client_id]);
    return client && { key: toKey(key), client: toClient(client) };
  }

  async createKey(key: ApiKey, event: UsageEvent | undefined, maxKeys: number): Promise<void> {
    await this.transaction(async (c) => {
      await this.checkQuota(c, key.client_id, 'max_api_keys', maxKeys, 'api_keys');
      await this.insert(c, 'api_keys', key);
      await this.recordEvent(c, event);
    });
  }

  async upsertKey(key: ApiKey): Promise<void> {
    // One statement: processes starting at once may all write the root key.
    const cols = Object.keys(key);
    await this.pool.query(
      `INSERT INTO api_keys (${cols.join(', ')}) VALUES (${placeholders(cols.length)})
       ON CONFLICT (id) DO UPDATE SET ${cols.filter((col) => col !== 'id').map((col) => `${col} = EXCLUDED.${col}`).join(', ')}`,
      Object.values(key).map(bindable),
    );
  }

  async getKey(clientId: string, id: string): Promise<ApiKey | undefined> {
    const row = await this.one(this.pool, 'SELECT * FROM api_keys WHERE id = $1 AND client_id = $2', [id, clientId]);
    return row && toKey(row);
  }

  async listKeys(clientId: string, page: Page): Promise<PageOf<ApiKey>> {
    return this.pageOf('SELECT * FROM api_keys WHERE client_id = $1 ORDER BY created_at, id', [clientId], page, toKey);
  }

  async updateKey(clientId: string, id: string, update: Update<KeyPatch>): Promise<ApiKey> {
    return toKey(await this.updateRow('api_keys', { id, client_id: clientId }, update));
  }

  async deleteKey(clientId: string, id: string, event: UsageEvent | undefined): Promise<void> {
    await this.deleteRow('api_keys', { id, client_id: clientId }, event);
  }

  async recordKeyUse(lastUsed: ReadonlyMap<string, number>): Promise<void> {
    if (lastUsed.size === 0) return;
    await this.pool.query(
      `UPDATE api_keys k SET last_used_at = GREATEST(coalesce(k.last_used_at, 0), u.at)
       FROM unnest($1::text[], $2::bigint[]) AS u(id, at) WHERE k.id = u.id`,
      [[...lastUsed.keys()], [...lastUsed.values()]],
    );
  }

  // ---- queues ----------------------------------------------------------------------------

  async createQueue(queue: Queue, event: UsageEvent, maxQueues: number): Promise<void> {
    await this.transaction(async (c) => {
      await this.checkQuota(c, queue.client_id, 'max_queues', maxQueues, 'queues');
      await this.insertUnique(c, 'queues', queue, 'name', queue.name);
      await this.recordEvent(c, event);
    });
  }

  async getQueue(clientId: string, id: string): Promise<Queue | undefined> {
    const row = await this.one(this.pool, 'SELECT * FROM queues WHERE id = $1 AND client_id = $2', [id, clientId]);
    return row && toQueue(row);
  }

  async listQueues(clientId: string, page: Page): Promise<PageOf<Queue>> {
    return this.pageOf('SELECT * FROM queues WHERE client_id = $1 ORDER BY created_at, id', [clientId], page, toQueue);
  }

  async updateQueue(clientId: string, id: string, update: Update<QueuePatch>): Promise<Queue> {
    return toQueue(await this.updateRow('queues', { id, client_id: clientId }, update, 'name'));
  }

  async deleteQueue(clientId: string, id: string, event: UsageEvent): Promise<void> {
    await this.deleteRow('queues', { id, client_id: clientId }, event);
  }

  // ---- listeners -------------------------------------------------------------------------

  async createListener(listener: Listener, event: UsageEvent, maxListeners: number): Promise<void> {
    await this.transaction(async (c) => {
      await this.checkQuota(c, listener.client_id, 'max_listeners', maxListeners, 'listeners');
      await this.insertUnique(c, 'listeners', listener, 'name', listener.name);
      await this.recordEvent(c, event);
    });
  }

  async getListener(clientId: string, queueId: string, id: string): Promise<Listener | undefined> {
    const row = await this.one(this.pool, 'SELECT * FROM listeners WHERE id = $1 AND queue_id = $2 AND client_id = $3', [id, queueId, clientId]);
    return row && toListener(row);
  }

  async listListeners(clientId: string, queueId: string | undefined, page: Page): Promise<PageOf<Listener>> {
    return queueId === undefined
      ? this.pageOf('SELECT * FROM listeners WHERE client_id = $1 ORDER BY created_at, id', [clientId], page, toListener)
      : this.pageOf('SELECT * FROM listeners WHERE queue_id = $1 AND client_id = $2 ORDER BY created_at, id', [queueId, clientId], page, toListener);
  }

  async updateListener(clientId: string, queueId: string, id: string, update: Update<ListenerPatch>): Promise<Listener> {
    return toListener(await this.updateRow('listeners', { id, queue_id: queueId, client_id: clientId }, update, 'name'));
  }

  async deleteListener(clientId: string, queueId: string, id: string, event: UsageEvent): Promise<void> {
    await this.deleteRow('listeners', { id, queue_id: queueId, client_id: clientId }, event);
  }

  async missedMessageIds(listenerId: string, limit: number): Promise<string[]> {
    const rows = await this.rows(
      this.pool,
      "SELECT message_id FROM deliveries WHERE listener_id = $1 AND state = 'missed' ORDER BY completed_at DESC LIMIT $2",
      [listenerId, limit],
    );
    return rows.map((r) => r.message_id as string);
  }

  async rotateListenerSecret(clientId: string, queueId: string, id: string, secret: string, previousUntil: number, at: number): Promise<Listener> {
    const row = await this.one(
      this.pool,
      `UPDATE listeners SET previous_secret = secret, previous_secret_until = $1, secret = $2, updated_at = $3, revision = revision + 1
       WHERE id = $4 AND queue_id = $5 AND client_id = $6 RETURNING *`,
      [previousUntil, secret, at, id, queueId, clientId],
    );
    if (!row) throw new NotFoundError('listener');
    return toListener(row);
  }

  // ---- messages --------------------------------------------------------------------------

  async createMessage(message: Message, event: UsageEvent, idempotent?: IdempotentPublish): Promise<number> {
    // Without a key, one statement: a publish is a single round trip.
    if (!idempotent) return this.insertMessage(this.pool, message, event);
    return this.transaction(async (c) => {
      await this.insertUnique(c, 'idempotency_keys', { client_id: message.client_id, ...idempotent }, 'Idempotency-Key', idempotent.key);
      return this.insertMessage(c, message, event);
    });
  }

  async findIdempotentPublish(clientId: string, key: string): Promise<IdempotentPublish | undefined> {
    const row = await this.one(this.pool, 'SELECT * FROM idempotency_keys WHERE client_id = $1 AND key = $2', [clientId, key]);
    return row && toIdempotentPublish(row);
  }

  /**
   * The message, a delivery for every listener its queue has now (a dead listener's waits,
   * held), and its event, in one statement: atomic on its own, one round trip.
   */
  private async insertMessage(c: Client, message: Message, event: UsageEvent): Promise<number> {
    const cols = Object.keys(message);
    const n = cols.length;
    const { id, client_id, type, stored_at, ...refs } = event;
    const { rows } = await c.query<{ deliveries: number }>(
      `WITH m AS (INSERT INTO messages (${cols.join(', ')}) VALUES (${placeholders(n)}) RETURNING id, queue_id),
       d AS (INSERT INTO deliveries (message_id, listener_id, state, due_at)
         SELECT m.id, l.id, CASE l.liveness_state WHEN 'dead' THEN 'held' ELSE 'pending' END, $${n + 1}
         FROM m JOIN listeners l ON l.queue_id = m.queue_id RETURNING 1)
       INSERT INTO usage_events (id, client_id, type, category, stored_at, refs) SELECT ${placeholders(6, n + 1)} FROM m
       RETURNING (SELECT count(*)::int FROM d) AS deliveries`,
      [...Object.values(message).map(bindable), message.deliver_at ?? message.created_at, id, client_id, type, eventCategory(type), stored_at, JSON.stringify(refs)],
    );
    const deliveries = rows[0]!.deliveries;
    if (deliveries > 0) this.notifyWork(c);
    return deliveries;
  }

  async getMessage(clientId: string, queueId: string, id: string): Promise<Message | undefined> {
    const row = await this.one(this.pool, 'SELECT * FROM messages WHERE id = $1 AND queue_id = $2 AND client_id = $3', [id, queueId, clientId]);
    return row && toMessage(row);
  }

  async listMessages(clientId: string, queueId: string | undefined, page: Page): Promise<PageOf<Message>> {
    return queueId === undefined
      ? this.pageOf('SELECT * FROM messages WHERE client_id = $1 ORDER BY created_at, id', [clientId], page, toMessage)
      : this.pageOf('SELECT * FROM messages WHERE queue_id = $1 AND client_id = $2 ORDER BY created_at, id', [queueId, clientId], page, toMessage);
  }

  async updateMessage(clientId: string, queueId: string, id: string, update: Update<MessagePatch>): Promise<Message> {
    return toMessage(await this.updateRow('messages', { id, queue_id: queueId, client_id: clientId }, update));
  }

  async deleteMessage(clientId: string, queueId: string, id: string, event: UsageEvent): Promise<void> {
    await this.deleteRow('messages', { id, queue_id: queueId, client_id: clientId }, event);
  }

  // ---- schedules -------------------------------------------------------------------------

  async createSchedule(schedule: Schedule, event: UsageEvent, maxSchedules: number): Promise<void> {
    await this.transaction(async (c) => {
      await this.checkQuota(c, schedule.client_id, 'max_schedules', maxSchedules, 'schedules');
      await this.insertUnique(c, 'schedules', schedule, 'name', schedule.name);
      await this.recordEvent(c, event);
      this.notifyWork(c);
    });
  }

  async getSchedule(clientId: string, queueId: string, id: string): Promise<Schedule | undefined> {
    const row = await this.one(this.pool, 'SELECT * FROM schedules WHERE id = $1 AND queue_id = $2 AND client_id = $3', [id, queueId, clientId]);
    return row && toSchedule(row);
  }

  async listSchedules(clientId: string, queueId: string, page: Page): Promise<PageOf<Schedule>> {
    return this.pageOf('SELECT * FROM schedules WHERE queue_id = $1 AND client_id = $2 ORDER BY created_at, id', [queueId, clientId], page, toSchedule);
  }

  async updateSchedule(clientId: string, queueId: string, id: string, update: Update<SchedulePatch>): Promise<Schedule> {
    const schedule = toSchedule(await this.updateRow('schedules', { id, queue_id: queueId, client_id: clientId }, update, 'name'));
    this.notifyWork(this.pool);
    return schedule;
  }

  async deleteSchedule(clientId: string, queueId: string, id: string, event: UsageEvent): Promise<void> {
    await this.deleteRow('schedules', { id, queue_id: queueId, client_id: clientId }, event);
  }

  async dueSchedules(now: number, limit: number): Promise<{ schedule: Schedule; queue: Queue }[]> {
    const rows = await this.rows(
      this.pool,
      `SELECT to_jsonb(s) AS schedule, to_jsonb(q) AS queue FROM schedules s JOIN queues q ON q.id = s.queue_id
       WHERE s.status = 'enabled' AND s.next_run_at <= $1 ORDER BY s.next_run_at LIMIT $2`,
      [now, limit],
    );
    return rows.map((r) => ({ schedule: toSchedule(r.schedule as Row), queue: toQueue(r.queue as Row) }));
  }

  async fireTick(tick: Tick): Promise<boolean> {
    return this.transaction(async (c) => {
      const { rowCount } = await c.query(
        `UPDATE schedules SET next_run_at = $1, last_run_at = $2, run_count = run_count + 1
         WHERE id = $3 AND next_run_at = $4 AND status = 'enabled'`,
        [tick.next, tick.at, tick.schedule.id, tick.due],
      );
      if (!rowCount) return false;
      if (tick.outcome.message) await this.insertMessage(c, tick.outcome.message, tick.outcome.event);
      else await this.recordEvent(c, tick.outcome.event);
      return true;
    });
  }

  async nextTickAt(): Promise<number | undefined> {
    const row = await this.one(this.pool, "SELECT min(next_run_at) AS at FROM schedules WHERE status = 'enabled'");
    return (row?.at as number | null) ?? undefined;
  }

  // ---- delivery --------------------------------------------------------------------------

  /**
   * As in the embedded store: the oldest due work first, then, when that belongs to listeners
   * without room, each other listener's own. SKIP LOCKED: concurrent workers take different
   * rows instead of waiting on each other.
   */
  async claimDeliveries(claim: ClaimRequest): Promise<DeliveryJob[]> {
    return this.transaction(async (c) => {
      // Made afresh by each attempt: taking rows uses the room up.
      const room = roomFor(claim);
      const take = async (rows: Row[]) => {
        const taken = takeWithRoom(rows, room, claim.perListener);
        if (taken.length > 0) {
          await c.query(
            `UPDATE deliveries d SET due_at = $1 FROM unnest($2::text[], $3::text[]) AS t(message_id, listener_id)
             WHERE d.message_id = t.message_id AND d.listener_id = t.listener_id`,
            [claim.leaseUntil, taken.map((r) => r.message_id), taken.map((r) => r.listener_id)],
          );
        }
        return taken;
      };
      const ready = (await this.rows(c, LISTENERS_WITH_PENDING)).map((row) => row.id as string);
      const head = await this.rows(c, claimSelect('TRUE'), [claim.now, headLimit(claim, room, ready)]);
      const taken = await take(head);
      if (taken.length < head.length) {
        for (const listenerId of ready) {
          const left = Math.min(room.get(listenerId) ?? claim.perListener, claim.limit - taken.length);
          if (left > 0) taken.push(...(await take(await this.rows(c, claimSelect('listener_id = $3'), [claim.now, left, listenerId]))));
          if (taken.length >= claim.limit) break;
        }
      }
      return taken.map((row) => toJob(row, claim.leaseUntil));
    }, true);
  }

  /**
   * All outcomes of a batch in a few statements. Listener rows are locked first, in id order,
   * as recordProbe locks them before deliveries: the two never wait on each other in a cycle.
   * The locks are NO KEY UPDATE, which a publish's foreign-key checks (KEY SHARE) pass through.
   * An outcome counts only while its claim's lease holds (see the SQLite store).
   */
  async recordOutcomes(outcomes: readonly DeliveryOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    const retries = outcomes.filter((o) => o.kind === 'retry');
    const finals = outcomes.filter((o) => o.kind !== 'retry');
    const column = <T>(list: readonly DeliveryOutcome[], pick: (o: DeliveryOutcome) => T) => list.map(pick);
    await this.transaction(async (c) => {
      const listenerIds = [...new Set(outcomes.map((o) => o.listenerId))].sort();
      await c.query('SELECT id FROM listeners WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE', [listenerIds]);
      if (retries.length > 0) {
        await c.query(
          `UPDATE deliveries d SET due_at = u.due_at, attempts = d.attempts + 1, last_status = u.status, last_error = u.error, last_attempt_at = u.at,
             state = CASE (SELECT liveness_state FROM listeners WHERE id = d.listener_id) WHEN 'dead' THEN 'held' ELSE d.state END
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::int[], $6::text[], $7::bigint[])
             AS u(message_id, listener_id, lease, due_at, status, error, at)
           WHERE d.message_id = u.message_id AND d.listener_id = u.listener_id AND d.state IN ('pending', 'held') AND d.due_at = u.lease`,
          [
            column(retries, (o) => o.messageId),
            column(retries, (o) => o.listenerId),
            column(retries, (o) => o.lease),
            column(retries, (o) => (o.kind === 'retry' ? o.dueAt : 0)),
            column(retries, (o) => o.status),
            column(retries, (o) => o.error),
            column(retries, (o) => o.at),
          ],
        );
      }
      if (finals.length === 0) return;
      const done = await this.rows(
        c,
        `UPDATE deliveries d SET state = u.state, attempts = d.attempts + 1, last_status = u.status, last_error = u.error,
           last_attempt_at = u.at, completed_at = u.at
         FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::int[], $6::text[], $7::bigint[])
           AS u(message_id, listener_id, lease, state, status, error, at)
         WHERE d.message_id = u.message_id AND d.listener_id = u.listener_id AND d.state IN ('pending', 'held') AND d.due_at = u.lease
         RETURNING d.message_id, d.listener_id, d.state`,
        [
          column(finals, (o) => o.messageId),
          column(finals, (o) => o.listenerId),
          column(finals, (o) => o.lease),
          column(finals, (o) => o.kind),
          column(finals, (o) => o.status),
          column(finals, (o) => o.error),
          column(finals, (o) => o.at),
        ],
      );
      const counts = new Map<string, { acknowledged: number; missed: number }>();
      for (const row of done) {
        const count = counts.get(row.listener_id as string) ?? { acknowledged: 0, missed: 0 };
        count[row.state as 'acknowledged' | 'missed'] += 1;
        counts.set(row.listener_id as string, count);
      }
      await c.query(
        `UPDATE listeners l SET acknowledged_count = l.acknowledged_count + t.acknowledged, missed_count = l.missed_count + t.missed
         FROM unnest($1::text[], $2::int[], $3::int[]) AS t(id, acknowledged, missed) WHERE l.id = t.id`,
        [[...counts.keys()], [...counts.values()].map((n) => n.acknowledged), [...counts.values()].map((n) => n.missed)],
      );
      const recorded = new Set(done.map((row) => `${row.message_id} ${row.listener_id}`));
      await this.recordEvents(c, finals.filter((o) => recorded.has(`${o.messageId} ${o.listenerId}`)).flatMap((o) => (o.event ? [o.event] : [])));
    }, true);
  }

  async nextDueAt(): Promise<number | undefined> {
    const row = await this.one(this.pool, "SELECT min(due_at) AS at FROM deliveries WHERE state = 'pending'");
    return (row?.at as number | null) ?? undefined;
  }

  async countPendingDeliveries(): Promise<number> {
    return Number((await this.one(this.pool, "SELECT count(*) AS n FROM deliveries WHERE state = 'pending'"))!.n);
  }

  async countListenersByState(): Promise<Record<LivenessState, number>> {
    const counts: Record<LivenessState, number> = { stable: 0, unstable: 0, dead: 0 };
    for (const row of await this.rows(this.pool, 'SELECT liveness_state, count(*) AS n FROM listeners GROUP BY liveness_state')) {
      counts[row.liveness_state as LivenessState] = Number(row.n);
    }
    return counts;
  }

  async deliveriesOf(messageId: string): Promise<DeliveryView[]> {
    const rows = await this.rows(
      this.pool,
      `SELECT d.*, l.name AS l_name FROM deliveries d JOIN listeners l ON l.id = d.listener_id
       WHERE d.message_id = $1 ORDER BY l.created_at, l.id`,
      [messageId],
    );
    return rows.map(toDeliveryView);
  }

  async redeliver(listenerId: string, messageIds: readonly string[] | undefined, now: number): Promise<number> {
    return this.transaction(async (c) => {
      // The listener's row first: its liveness cannot change until the redelivery commits.
      await c.query('SELECT id FROM listeners WHERE id = $1 FOR NO KEY UPDATE', [listenerId]);
      const { rowCount } = await c.query(
        `UPDATE deliveries SET due_at = $2, attempts = 0, completed_at = NULL,
           state = CASE (SELECT liveness_state FROM listeners WHERE id = $1) WHEN 'dead' THEN 'held' ELSE 'pending' END
         WHERE listener_id = $1 AND state = 'missed' AND ($3::text[] IS NULL OR message_id = ANY($3::text[]))`,
        [listenerId, now, messageIds ?? null],
      );
      const changed = rowCount ?? 0;
      await c.query('UPDATE listeners SET missed_count = GREATEST(0, missed_count - $1) WHERE id = $2', [changed, listenerId]);
      if (changed > 0) this.notifyWork(c);
      return changed;
    });
  }

  async claimProbes(now: number, nextProbeAt: number, limit: number): Promise<ProbeTarget[]> {
    const rows = await this.rows(
      this.pool,
      `UPDATE listeners SET next_probe_at = $2 WHERE id IN (
         SELECT id FROM listeners WHERE next_probe_at <= $1 ORDER BY next_probe_at LIMIT $3 FOR NO KEY UPDATE SKIP LOCKED)
       RETURNING id, liveness_url`,
      [now, nextProbeAt, limit],
    );
    return rows as unknown as ProbeTarget[];
  }

  async recordProbe(listenerId: string, ok: boolean, at: number): Promise<LivenessChange | undefined> {
    return this.transaction(async (c) => {
      const row = await this.one(c, 'SELECT liveness_state, liveness_streak FROM listeners WHERE id = $1 FOR NO KEY UPDATE', [listenerId]);
      if (!row) return undefined;
      const from = row.liveness_state as LivenessState;
      const next = nextLiveness(from, row.liveness_streak as number, ok);
      await c.query(
        `UPDATE listeners SET liveness_state = $1, liveness_streak = $2,
           liveness_success_count = liveness_success_count + $3, liveness_failure_count = liveness_failure_count + $4 WHERE id = $5`,
        [next.state, next.streak, ok ? 1 : 0, ok ? 0 : 1, listenerId],
      );
      return { from, to: next.state };
    }, true);
  }

  async alignDeliveries(listenerId: string, at: number, limit: number): Promise<number> {
    return this.transaction(async (c) => {
      // Shares the listener's lock with publishes, not with a probe changing its state.
      const row = await this.one(c, 'SELECT liveness_state FROM listeners WHERE id = $1 FOR SHARE', [listenerId]);
      if (!row) return 0;
      const [from, to] = row.liveness_state === 'dead' ? ['pending', 'held'] : ['held', 'pending'];
      const { rowCount } = await c.query(
        `UPDATE deliveries SET state = $1, due_at = CASE $1 WHEN 'pending' THEN GREATEST(due_at, $2) ELSE due_at END
         WHERE listener_id = $3 AND message_id IN (
           SELECT message_id FROM deliveries WHERE listener_id = $3 AND state = $4 LIMIT $5 FOR UPDATE SKIP LOCKED)`,
        [to, at, listenerId, from, limit],
      );
      if (rowCount && to === 'pending') this.notifyWork(c);
      return rowCount ?? 0;
    }, true);
  }

  async purgeAcknowledgedMessages(before: number, batch: number): Promise<number> {
    const { rowCount } = await this.pool.query(
      `DELETE FROM messages WHERE id IN (
         SELECT m.id FROM messages m WHERE m.created_at < $1
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id AND d.state != 'acknowledged')
         LIMIT $2)`,
      [before, batch],
    );
    return rowCount ?? 0;
  }

  // ---- usage events ----------------------------------------------------------------------

  async listEvents(query: EventQuery): Promise<UsageEvent[]> {
    const rows = await this.rows(
      this.pool,
      `SELECT * FROM usage_events WHERE client_id = $1 AND ($2::text IS NULL OR category = $2)
         AND (stored_at > $3 OR (stored_at = $3 AND id > $4)) ORDER BY stored_at, id LIMIT $5`,
      [query.clientId, query.category ?? null, query.after.at, query.after.id, query.limit],
    );
    return rows.map(toEvent);
  }

  async countEvents(clientId: string, windows: StatsWindows): Promise<Record<keyof StatsWindows, EventCounts>> {
    const since = Math.min(windows.last24h, windows.last1h, windows.today);
    const rows = await this.rows(
      this.pool,
      `SELECT type, count(*) FILTER (WHERE stored_at >= $1) AS last24h, count(*) FILTER (WHERE stored_at >= $2) AS last1h,
         count(*) FILTER (WHERE stored_at >= $3) AS today
       FROM usage_events WHERE client_id = $4 AND stored_at >= $5 GROUP BY type`,
      [windows.last24h, windows.last1h, windows.today, clientId, since],
    );
    return tallyByWindow(rows);
  }

  async purgeEventsBefore(at: number, batch: number): Promise<number> {
    const keys = await this.pool.query(
      'DELETE FROM idempotency_keys WHERE (client_id, key) IN (SELECT client_id, key FROM idempotency_keys WHERE created_at < $1 LIMIT $2)',
      [at, batch],
    );
    const events = await this.pool.query('DELETE FROM usage_events WHERE ctid IN (SELECT ctid FROM usage_events WHERE stored_at < $1 LIMIT $2)', [at, batch]);
    return (keys.rowCount ?? 0) + (events.rowCount ?? 0);
  }
}
