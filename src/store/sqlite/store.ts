import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DuplicateError, NotFoundError, QuotaExceededError, RevisionConflictError } from '../errors.js';
import {
  type ApiClient,
  type ApiKey,
  type ClaimRequest,
  type ClientPatch,
  type DeliveryJob,
  type DeliveryOutcome,
  type DeliveryView,
  type LivenessChange,
  type LivenessState,
  type ProbeTarget,
  type Schedule,
  type SchedulePatch,
  type Tick,
  type EventCounts,
  type EventQuery,
  type KeyPatch,
  type Listener,
  type ListenerPatch,
  type IdempotentPublish,
  type Message,
  type MessagePatch,
  type Page,
  type PageOf,
  type Queue,
  type QueuePatch,
  type StatsWindows,
  type Store,
  type Update,
  type UsageEvent,
} from '../types.js';
import { nextLiveness } from '../../domain/liveness.js';
import { bindable, eventCategory, LISTENERS_WITH_PENDING, MUTABLE, newRootClient, roomFor, tallyByWindow, takeWithRoom, toClient, toDeliveryView, toEvent, toIdempotentPublish, toJob, toKey, toListener, toMessage, toQueue, toSchedule, type Row } from '../rows.js';
import { GroupCommit } from './group-commit.js';
import { MIGRATIONS } from '../migrations.js';

type Db = Database.Database;

const CLAIM_SELECT = `SELECT d.rowid AS rowid, d.attempts, m.id AS m_id, m.name AS m_name, m.data, m.created_at AS m_created_at,
    q.id AS q_id, q.name AS q_name, l.id AS l_id, l.name AS l_name, l.client_id, l.notify_url, l.secret,
    l.previous_secret, l.previous_secret_until
  FROM deliveries d JOIN messages m ON m.id = d.message_id JOIN listeners l ON l.id = d.listener_id JOIN queues q ON q.id = m.queue_id`;


export function openSqliteStore(dataDir: string, now: () => number = Date.now): SqliteStore {
  mkdirSync(dataDir, { recursive: true });
  const db = new Database(join(dataDir, 'discue.sqlite3'));
  // WAL lets readers run beside the writer; FULL makes every commit survive power loss, so a
  // 200 on publish means the message is on disk.
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db);
  return new SqliteStore(db, now);
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const applied = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  const apply = db.transaction((m: { version: number; sql: string }) => {
    db.exec(m.sql);
    db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(m.version, Date.now());
  });
  for (const m of MIGRATIONS) if (!applied.has(m.version)) apply.immediate(m);
}

// ---- row mapping -------------------------------------------------------------------------

function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE' || (err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

// Failures of the disk or of concurrent access, not of the request: worth retrying later.
const UNAVAILABLE_CODES = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_PROTOCOL'];

export class SqliteStore implements Store {
  private readonly statements = new Map<string, Database.Statement>();
  private readonly commits: GroupCommit;

  constructor(
    readonly db: Db,
    private readonly now: () => number,
  ) {
    this.commits = new GroupCommit(db);
  }

  /** Runs a write transaction, committed together with the others of this turn of the loop. */
  private write<T>(work: () => T): Promise<T> {
    return this.commits.run(work);
  }

  /** A write that a crash may lose without losing a message: delivery bookkeeping. */
  private writeRelaxed<T>(work: () => T): Promise<T> {
    return this.commits.run(work, false);
  }

  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  private insert(table: string, row: object): void {
    const cols = Object.keys(row);
    const sql = `INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`;
    this.stmt(sql).run(...Object.values(row).map(bindable));
  }

  private insertUnique(table: string, row: object, field: string, value: string): void {
    try {
      this.insert(table, row);
    } catch (err) {
      if (isUniqueViolation(err)) throw new DuplicateError(field, value);
      throw err;
    }
  }

  private recordEvent(event: UsageEvent | undefined): void {
    if (!event) return;
    const { id, client_id, type, stored_at, ...refs } = event;
    this.stmt('INSERT INTO usage_events (id, client_id, type, category, stored_at, refs) VALUES (?, ?, ?, ?, ?, ?)').run(
      id,
      client_id,
      type,
      eventCategory(type),
      stored_at,
      JSON.stringify(refs),
    );
  }

  private page(sql: string, params: unknown[], page: Page): { rows: Row[]; hasMore: boolean } {
    const rows = this.stmt(`${sql} LIMIT ? OFFSET ?`).all(...params, page.limit + 1, page.offset) as Row[];
    return { rows: rows.slice(0, page.limit), hasMore: rows.length > page.limit };
  }

  private pageOf<T>(sql: string, params: unknown[], page: Page, map: (r: Row) => T): PageOf<T> {
    const { rows, hasMore } = this.page(sql, params, page);
    return { items: rows.map(map), hasMore };
  }

  private count(sql: string, ...params: unknown[]): number {
    return this.stmt(sql).pluck().get(...params) as number;
  }

  private checkQuota(quota: string, limit: number, sql: string, ...params: unknown[]): void {
    if (this.count(sql, ...params) >= limit) throw new QuotaExceededError(quota, limit);
  }

  /**
   * Applies a patch to one row found by `where`, conditional on the expected revision, and
   * returns the row as it is now.
   */
  private async updateRow(table: string, where: Record<string, string>, update: Update<object>, uniqueField?: string): Promise<Row> {
    const whereSql = Object.keys(where).map((c) => `${c} = ?`).join(' AND ');
    const cols = Object.keys(update.patch).filter((c) => MUTABLE[table]!.includes(c));
    const run = () => {
      const current = this.stmt(`SELECT revision FROM ${table} WHERE ${whereSql}`).get(...Object.values(where)) as Row | undefined;
      if (!current) throw new NotFoundError(table);
      if (update.expectedRevision !== undefined && update.expectedRevision !== current.revision) {
        throw new RevisionConflictError(current.revision as number);
      }
      const sets = [...cols.map((c) => `${c} = ?`), 'updated_at = ?', 'revision = revision + 1'].join(', ');
      const values = cols.map((c) => bindable((update.patch as Record<string, unknown>)[c]));
      this.stmt(`UPDATE ${table} SET ${sets} WHERE ${whereSql}`).run(...values, update.updatedAt, ...Object.values(where));
      this.recordEvent(update.event);
      return this.stmt(`SELECT * FROM ${table} WHERE ${whereSql}`).get(...Object.values(where)) as Row;
    };
    try {
      return await this.write(run);
    } catch (err) {
      if (isUniqueViolation(err) && uniqueField) {
        throw new DuplicateError(uniqueField, String((update.patch as Record<string, unknown>)[uniqueField]));
      }
      throw err;
    }
  }

  private async deleteRow(table: string, where: Record<string, string>, event: UsageEvent | undefined): Promise<void> {
    const whereSql = Object.keys(where).map((c) => `${c} = ?`).join(' AND ');
    await this.write(() => {
      const { changes } = this.stmt(`DELETE FROM ${table} WHERE ${whereSql}`).run(...Object.values(where));
      if (changes === 0) throw new NotFoundError(table);
      this.recordEvent(event);
    });
  }

  async close(): Promise<void> {
    this.db.close();
  }

  /** The embedded store has no channel between processes: another process finds work at its next poll. */
  async watchWork(): Promise<() => Promise<void>> {
    return async () => undefined;
  }

  isUnavailable(err: unknown): boolean {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string') return UNAVAILABLE_CODES.some((c) => code.startsWith(c));
    return err instanceof TypeError && /database connection is not open/.test(err.message);
  }

  // ---- tenancy ---------------------------------------------------------------------------

  async rootClient(): Promise<ApiClient> {
    const existing = this.stmt('SELECT * FROM api_clients WHERE is_root = 1').get() as Row | undefined;
    if (existing) return toClient(existing);
    const root = newRootClient(this.now());
    this.insert('api_clients', root);
    return root;
  }

  async createClient(client: ApiClient, firstKey: ApiKey, event: UsageEvent): Promise<void> {
    await this.write(() => {
      this.insertUnique('api_clients', client, 'name', client.name);
      this.insert('api_keys', firstKey);
      this.recordEvent(event);
    });
  }

  async getClient(id: string): Promise<ApiClient | undefined> {
    const row = this.stmt('SELECT * FROM api_clients WHERE id = ?').get(id) as Row | undefined;
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
    const key = this.stmt('SELECT * FROM api_keys WHERE key_hash = ?').get(hash) as Row | undefined;
    if (!key) return undefined;
    const client = this.stmt('SELECT * FROM api_clients WHERE id = ?').get(key.client_id) as Row;
    return { key: toKey(key), client: toClient(client) };
  }

  async createKey(key: ApiKey, event: UsageEvent | undefined, maxKeys: number): Promise<void> {
    await this.write(() => {
      this.checkQuota('max_api_keys', maxKeys, 'SELECT count(*) FROM api_keys WHERE client_id = ?', key.client_id);
      this.insert('api_keys', key);
      this.recordEvent(event);
    });
  }

  async upsertKey(key: ApiKey): Promise<void> {
    await this.write(() => {
      this.stmt('DELETE FROM api_keys WHERE id = ?').run(key.id);
      this.insert('api_keys', key);
    });
  }

  async getKey(clientId: string, id: string): Promise<ApiKey | undefined> {
    const row = this.stmt('SELECT * FROM api_keys WHERE id = ? AND client_id = ?').get(id, clientId) as Row | undefined;
    return row && toKey(row);
  }

  async listKeys(clientId: string, page: Page): Promise<PageOf<ApiKey>> {
    return this.pageOf('SELECT * FROM api_keys WHERE client_id = ? ORDER BY created_at, id', [clientId], page, toKey);
  }

  async updateKey(clientId: string, id: string, update: Update<KeyPatch>): Promise<ApiKey> {
    return toKey(await this.updateRow('api_keys', { id, client_id: clientId }, update));
  }

  async deleteKey(clientId: string, id: string, event: UsageEvent | undefined): Promise<void> {
    await this.deleteRow('api_keys', { id, client_id: clientId }, event);
  }

  async recordKeyUse(lastUsed: ReadonlyMap<string, number>): Promise<void> {
    const touch = this.stmt('UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?');
    await this.write(() => {
      for (const [id, at] of lastUsed) touch.run(at, id);
    });
  }

  // ---- queues ----------------------------------------------------------------------------

  async createQueue(queue: Queue, event: UsageEvent, maxQueues: number): Promise<void> {
    await this.write(() => {
      this.checkQuota('max_queues', maxQueues, 'SELECT count(*) FROM queues WHERE client_id = ?', queue.client_id);
      this.insertUnique('queues', queue, 'name', queue.name);
      this.recordEvent(event);
    });
  }

  async getQueue(clientId: string, id: string): Promise<Queue | undefined> {
    const row = this.stmt('SELECT * FROM queues WHERE id = ? AND client_id = ?').get(id, clientId) as Row | undefined;
    return row && toQueue(row);
  }

  async listQueues(clientId: string, page: Page): Promise<PageOf<Queue>> {
    return this.pageOf('SELECT * FROM queues WHERE client_id = ? ORDER BY created_at, id', [clientId], page, toQueue);
  }

  async updateQueue(clientId: string, id: string, update: Update<QueuePatch>): Promise<Queue> {
    return toQueue(await this.updateRow('queues', { id, client_id: clientId }, update, 'name'));
  }

  async deleteQueue(clientId: string, id: string, event: UsageEvent): Promise<void> {
    await this.deleteRow('queues', { id, client_id: clientId }, event);
  }

  // ---- listeners -------------------------------------------------------------------------

  async createListener(listener: Listener, event: UsageEvent, maxListeners: number): Promise<void> {
    await this.write(() => {
      this.checkQuota('max_listeners', maxListeners, 'SELECT count(*) FROM listeners WHERE client_id = ?', listener.client_id);
      this.insertUnique('listeners', listener, 'name', listener.name);
      this.recordEvent(event);
    });
  }

  async getListener(clientId: string, queueId: string, id: string): Promise<Listener | undefined> {
    const row = this.stmt('SELECT * FROM listeners WHERE id = ? AND queue_id = ? AND client_id = ?').get(id, queueId, clientId) as Row | undefined;
    return row && toListener(row);
  }

  async listListeners(clientId: string, queueId: string | undefined, page: Page): Promise<PageOf<Listener>> {
    return queueId === undefined
      ? this.pageOf('SELECT * FROM listeners WHERE client_id = ? ORDER BY created_at, id', [clientId], page, toListener)
      : this.pageOf('SELECT * FROM listeners WHERE queue_id = ? AND client_id = ? ORDER BY created_at, id', [queueId, clientId], page, toListener);
  }

  async updateListener(clientId: string, queueId: string, id: string, update: Update<ListenerPatch>): Promise<Listener> {
    return toListener(await this.updateRow('listeners', { id, queue_id: queueId, client_id: clientId }, update, 'name'));
  }

  async deleteListener(clientId: string, queueId: string, id: string, event: UsageEvent): Promise<void> {
    await this.deleteRow('listeners', { id, queue_id: queueId, client_id: clientId }, event);
  }

  async missedMessageIds(listenerId: string, limit: number): Promise<string[]> {
    return this.stmt(
      "SELECT message_id FROM deliveries WHERE listener_id = ? AND state = 'missed' ORDER BY completed_at DESC LIMIT ?",
    ).pluck().all(listenerId, limit) as string[];
  }

  async rotateListenerSecret(clientId: string, queueId: string, id: string, secret: string, previousUntil: number, at: number): Promise<Listener> {
    const where = 'id = ? AND queue_id = ? AND client_id = ?';
    return this.write(() => {
      const { changes } = this.stmt(
        `UPDATE listeners SET previous_secret = secret, previous_secret_until = ?, secret = ?, updated_at = ?, revision = revision + 1 WHERE ${where}`,
      ).run(previousUntil, secret, at, id, queueId, clientId);
      if (changes === 0) throw new NotFoundError('listener');
      return toListener(this.stmt(`SELECT * FROM listeners WHERE ${where}`).get(id, queueId, clientId) as Row);
    });
  }

  // ---- messages --------------------------------------------------------------------------

  async createMessage(message: Message, event: UsageEvent, idempotent?: IdempotentPublish): Promise<number> {
    return this.write(() => {
      if (idempotent) this.insertUnique('idempotency_keys', { client_id: message.client_id, ...idempotent }, 'Idempotency-Key', idempotent.key);
      return this.insertMessage(message, event);
    });
  }

  async findIdempotentPublish(clientId: string, key: string): Promise<IdempotentPublish | undefined> {
    const row = this.stmt('SELECT * FROM idempotency_keys WHERE client_id = ? AND key = ?').get(clientId, key) as Row | undefined;
    return row && toIdempotentPublish(row);
  }

  /** The message, a delivery for every listener the queue has now, and its event. */
  private insertMessage(message: Message, event: UsageEvent): number {
    this.insert('messages', message);
    // A dead listener's delivery waits (held) until the listener is live again.
    const { changes } = this.stmt(
      `INSERT INTO deliveries (message_id, listener_id, state, due_at)
       SELECT ?, id, CASE liveness_state WHEN 'dead' THEN 'held' ELSE 'pending' END, ? FROM listeners WHERE queue_id = ?`,
    ).run(message.id, message.deliver_at ?? message.created_at, message.queue_id);
    this.recordEvent(event);
    return changes;
  }

  async getMessage(clientId: string, queueId: string, id: string): Promise<Message | undefined> {
    const row = this.stmt('SELECT * FROM messages WHERE id = ? AND queue_id = ? AND client_id = ?').get(id, queueId, clientId) as Row | undefined;
    return row && toMessage(row);
  }

  async listMessages(clientId: string, queueId: string | undefined, page: Page): Promise<PageOf<Message>> {
    return queueId === undefined
      ? this.pageOf('SELECT * FROM messages WHERE client_id = ? ORDER BY created_at, id', [clientId], page, toMessage)
      : this.pageOf('SELECT * FROM messages WHERE queue_id = ? AND client_id = ? ORDER BY created_at, id', [queueId, clientId], page, toMessage);
  }

  async updateMessage(clientId: string, queueId: string, id: string, update: Update<MessagePatch>): Promise<Message> {
    return toMessage(await this.updateRow('messages', { id, queue_id: queueId, client_id: clientId }, update));
  }

  async deleteMessage(clientId: string, queueId: string, id: string, event: UsageEvent): Promise<void> {
    await this.deleteRow('messages', { id, queue_id: queueId, client_id: clientId }, event);
  }

  // ---- schedules -------------------------------------------------------------------------

  async createSchedule(schedule: Schedule, event: UsageEvent, maxSchedules: number): Promise<void> {
    await this.write(() => {
      this.checkQuota('max_schedules', maxSchedules, 'SELECT count(*) FROM schedules WHERE client_id = ?', schedule.client_id);
      this.insertUnique('schedules', schedule, 'name', schedule.name);
      this.recordEvent(event);
    });
  }

  async getSchedule(clientId: string, queueId: string, id: string): Promise<Schedule | undefined> {
    return this.stmt('SELECT * FROM schedules WHERE id = ? AND queue_id = ? AND client_id = ?').get(id, queueId, clientId) as Schedule | undefined;
  }

  async listSchedules(clientId: string, queueId: string, page: Page): Promise<PageOf<Schedule>> {
    return this.pageOf('SELECT * FROM schedules WHERE queue_id = ? AND client_id = ? ORDER BY created_at, id', [queueId, clientId], page, toSchedule);
  }

  async updateSchedule(clientId: string, queueId: string, id: string, update: Update<SchedulePatch>): Promise<Schedule> {
    return (await this.updateRow('schedules', { id, queue_id: queueId, client_id: clientId }, update, 'name')) as unknown as Schedule;
  }

  async deleteSchedule(clientId: string, queueId: string, id: string, event: UsageEvent): Promise<void> {
    await this.deleteRow('schedules', { id, queue_id: queueId, client_id: clientId }, event);
  }

  async dueSchedules(now: number, limit: number): Promise<{ schedule: Schedule; queue: Queue }[]> {
    const schedules = this.stmt("SELECT * FROM schedules WHERE status = 'enabled' AND next_run_at <= ? ORDER BY next_run_at LIMIT ?").all(now, limit) as Schedule[];
    return schedules.map((schedule) => ({ schedule, queue: toQueue(this.stmt('SELECT * FROM queues WHERE id = ?').get(schedule.queue_id) as Row) }));
  }

  async fireTick(tick: Tick): Promise<boolean> {
    return this.write(() => {
      const { changes } = this.stmt(
        `UPDATE schedules SET next_run_at = ?, last_run_at = ?, run_count = run_count + 1
         WHERE id = ? AND next_run_at = ? AND status = 'enabled'`,
      ).run(tick.next, tick.at, tick.schedule.id, tick.due);
      if (changes === 0) return false;
      if (tick.outcome.message) this.insertMessage(tick.outcome.message, tick.outcome.event);
      else this.recordEvent(tick.outcome.event);
      return true;
    });
  }

  async nextTickAt(): Promise<number | undefined> {
    return (this.stmt("SELECT min(next_run_at) FROM schedules WHERE status = 'enabled'").pluck().get() as number | null) ?? undefined;
  }

  // ---- delivery --------------------------------------------------------------------------

  /**
   * Claims the oldest due deliveries whose listeners have room. When the oldest belong to
   * listeners without room (a slow listener's backlog), each other listener's due work is
   * looked up on its own, so one listener's backlog never hides another's work and no claim
   * reads more than it can take.
   */
  async claimDeliveries(claim: ClaimRequest): Promise<DeliveryJob[]> {
    return this.writeRelaxed(() => {
      const room = roomFor(claim);
      const lease = this.stmt('UPDATE deliveries SET due_at = ? WHERE rowid = ?');
      const take = (rows: Row[]) => {
        const taken = takeWithRoom(rows, room, claim.perListener);
        for (const row of taken) lease.run(claim.leaseUntil, row.rowid);
        return taken;
      };
      // The head holds only ids, read from the index alone: some of it may belong to listeners
      // without room, and only what is taken is worth joining with its message, listener and queue.
      const head = this.stmt(
        "SELECT rowid, listener_id AS l_id FROM deliveries WHERE state = 'pending' AND due_at <= ? ORDER BY due_at LIMIT ?",
      ).all(claim.now, claim.limit) as Row[];
      const joined = this.stmt(`${CLAIM_SELECT} WHERE d.rowid = ?`);
      const taken = take(head).map((row) => joined.get(row.rowid) as Row);
      if (taken.length < head.length) {
        const ofListener = this.stmt(`${CLAIM_SELECT} WHERE d.state = 'pending' AND d.listener_id = ? AND d.due_at <= ? ORDER BY d.due_at LIMIT ?`);
        for (const listenerId of this.stmt(LISTENERS_WITH_PENDING).pluck().all() as string[]) {
          const left = Math.min(room.get(listenerId) ?? claim.perListener, claim.limit - taken.length);
          if (left > 0) taken.push(...take(ofListener.all(listenerId, claim.now, left) as Row[]));
          if (taken.length >= claim.limit) break;
        }
      }
      return taken.map((row) => toJob(row, claim.leaseUntil));
    });
  }

  async recordOutcomes(outcomes: readonly DeliveryOutcome[]): Promise<void> {
    // An outcome counts only while its claim's lease holds: not after the lease ran out and
    // another worker took the delivery, nor after a redelivery or a deletion. A delivery held
    // meanwhile (its listener died) still takes its outcome: a retry's due time replaces the
    // lease (or the delivery would wait for the lease when the listener revives), and a retry
    // for a dead listener holds the delivery even if alignment has not reached it yet.
    const finish = this.stmt(
      `UPDATE deliveries SET state = ?, attempts = attempts + 1, last_status = ?, last_error = ?, last_attempt_at = ?, completed_at = ?
       WHERE message_id = ? AND listener_id = ? AND state IN ('pending', 'held') AND due_at = ?`,
    );
    const retry = this.stmt(
      `UPDATE deliveries SET due_at = ?, attempts = attempts + 1, last_status = ?, last_error = ?, last_attempt_at = ?,
         state = CASE (SELECT liveness_state FROM listeners WHERE id = deliveries.listener_id) WHEN 'dead' THEN 'held' ELSE state END
       WHERE message_id = ? AND listener_id = ? AND state IN ('pending', 'held') AND due_at = ?`,
    );
    const count = this.stmt('UPDATE listeners SET acknowledged_count = acknowledged_count + ?, missed_count = missed_count + ? WHERE id = ?');
    await this.writeRelaxed(() => {
      // Per listener [acknowledged, missed]: one counter update each, not one per outcome.
      const finished = new Map<string, [number, number]>();
      for (const o of outcomes) {
        if (o.kind === 'retry') {
          retry.run(o.dueAt, o.status, o.error, o.at, o.messageId, o.listenerId, o.lease);
          continue;
        }
        // Only a delivery still pending is finished: a redelivered or deleted one is left alone.
        const { changes } = finish.run(o.kind, o.status, o.error, o.at, o.at, o.messageId, o.listenerId, o.lease);
        if (changes === 0) continue;
        const tally = finished.get(o.listenerId) ?? [0, 0];
        tally[o.kind === 'acknowledged' ? 0 : 1] += 1;
        finished.set(o.listenerId, tally);
        this.recordEvent(o.event);
      }
      for (const [listenerId, [acknowledged, missed]] of finished) count.run(acknowledged, missed, listenerId);
    });
  }

  async nextDueAt(): Promise<number | undefined> {
    const at = this.stmt("SELECT min(due_at) FROM deliveries WHERE state = 'pending'").pluck().get() as number | null;
    return at ?? undefined;
  }

  async countPendingDeliveries(): Promise<number> {
    // Counted on the partial index of pending deliveries: no table scan.
    return this.count("SELECT count(*) FROM deliveries WHERE state = 'pending'");
  }

  async countListenersByState(): Promise<Record<LivenessState, number>> {
    const counts: Record<LivenessState, number> = { stable: 0, unstable: 0, dead: 0 };
    const rows = this.stmt('SELECT liveness_state, count(*) AS n FROM listeners GROUP BY liveness_state').all() as { liveness_state: LivenessState; n: number }[];
    for (const row of rows) counts[row.liveness_state] = row.n;
    return counts;
  }

  async deliveriesOf(messageId: string): Promise<DeliveryView[]> {
    const rows = this.stmt(
      `SELECT d.*, l.name AS l_name FROM deliveries d JOIN listeners l ON l.id = d.listener_id
       WHERE d.message_id = ? ORDER BY l.created_at, l.id`,
    ).all(messageId) as Row[];
    return rows.map(toDeliveryView);
  }

  async redeliver(listenerId: string, messageIds: readonly string[] | undefined, now: number): Promise<number> {
    // A dead listener's redeliveries wait with the rest of its deliveries.
    const reset = `UPDATE deliveries SET due_at = @now, attempts = 0, completed_at = NULL,
        state = CASE (SELECT liveness_state FROM listeners WHERE id = @listener) WHEN 'dead' THEN 'held' ELSE 'pending' END
      WHERE listener_id = @listener AND state = 'missed'`;
    return this.write(() => {
      let changed = 0;
      if (messageIds === undefined) {
        changed = this.stmt(reset).run({ listener: listenerId, now }).changes;
      } else {
        const one = this.stmt(`${reset} AND message_id = @message`);
        for (const message of messageIds) changed += one.run({ listener: listenerId, now, message }).changes;
      }
      this.stmt('UPDATE listeners SET missed_count = max(0, missed_count - ?) WHERE id = ?').run(changed, listenerId);
      return changed;
    });
  }

  async claimProbes(now: number, nextProbeAt: number, limit: number): Promise<ProbeTarget[]> {
    return this.writeRelaxed(() => {
      const due = this.stmt('SELECT id, liveness_url FROM listeners WHERE next_probe_at <= ? ORDER BY next_probe_at LIMIT ?').all(now, limit) as ProbeTarget[];
      const push = this.stmt('UPDATE listeners SET next_probe_at = ? WHERE id = ?');
      for (const target of due) push.run(nextProbeAt, target.id);
      return due;
    });
  }

  async recordProbe(listenerId: string, ok: boolean, at: number): Promise<LivenessChange | undefined> {
    return this.writeRelaxed(() => {
      const row = this.stmt('SELECT liveness_state, liveness_streak FROM listeners WHERE id = ?').get(listenerId) as Row | undefined;
      if (!row) return undefined;
      const from = row.liveness_state as LivenessState;
      const next = nextLiveness(from, row.liveness_streak as number, ok);
      this.stmt(
        `UPDATE listeners SET liveness_state = ?, liveness_streak = ?,
           liveness_success_count = liveness_success_count + ?, liveness_failure_count = liveness_failure_count + ? WHERE id = ?`,
      ).run(next.state, next.streak, ok ? 1 : 0, ok ? 0 : 1, listenerId);
      return { from, to: next.state };
    });
  }

  async alignDeliveries(listenerId: string, at: number, limit: number): Promise<number> {
    return this.writeRelaxed(() => {
      const state = this.stmt('SELECT liveness_state FROM listeners WHERE id = ?').pluck().get(listenerId) as LivenessState | undefined;
      if (state === undefined) return 0;
      const [from, to] = state === 'dead' ? ['pending', 'held'] : ['held', 'pending'];
      return this.stmt(
        `UPDATE deliveries SET state = @to, due_at = CASE @to WHEN 'pending' THEN max(due_at, @at) ELSE due_at END
         WHERE rowid IN (SELECT rowid FROM deliveries WHERE listener_id = @listener AND state = @from LIMIT @limit)`,
      ).run({ from, to, at, listener: listenerId, limit }).changes;
    });
  }

  async purgeAcknowledgedMessages(before: number, batch: number): Promise<number> {
    return this.stmt(
      `DELETE FROM messages WHERE id IN (
         SELECT m.id FROM messages m WHERE m.created_at < ?
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.message_id = m.id AND d.state != 'acknowledged')
         LIMIT ?)`,
    ).run(before, batch).changes;
  }

  // ---- usage events ----------------------------------------------------------------------

  async listEvents(query: EventQuery): Promise<UsageEvent[]> {
    const byCategory = query.category !== undefined;
    const sql = `SELECT * FROM usage_events WHERE client_id = ?${byCategory ? ' AND category = ?' : ''}
      AND (stored_at > ? OR (stored_at = ? AND id > ?)) ORDER BY stored_at, id LIMIT ?`;
    const params = [query.clientId, ...(byCategory ? [query.category] : []), query.after.at, query.after.at, query.after.id, query.limit];
    return (this.stmt(sql).all(...params) as Row[]).map(toEvent);
  }

  async countEvents(clientId: string, windows: StatsWindows): Promise<Record<keyof StatsWindows, EventCounts>> {
    const since = Math.min(windows.last24h, windows.last1h, windows.today);
    const rows = this.stmt(
      `SELECT type,
         sum(stored_at >= ?) AS last24h, sum(stored_at >= ?) AS last1h, sum(stored_at >= ?) AS today
       FROM usage_events WHERE client_id = ? AND stored_at >= ? GROUP BY type`,
    ).all(windows.last24h, windows.last1h, windows.today, clientId, since) as Row[];
    return tallyByWindow(rows);
  }

  async purgeEventsBefore(at: number, batch: number): Promise<number> {
    const keys = this.stmt('DELETE FROM idempotency_keys WHERE rowid IN (SELECT rowid FROM idempotency_keys WHERE created_at < ? LIMIT ?)').run(at, batch).changes;
    return keys + this.stmt('DELETE FROM usage_events WHERE rowid IN (SELECT rowid FROM usage_events WHERE stored_at < ? LIMIT ?)').run(at, batch).changes;
  }
}

