import { EVENT_TYPES, type ClaimRequest, type ApiClient, type ApiKey, type DeliveryJob, type DeliveryState, type DeliveryView, type IdempotentPublish, type UsageEvent, type EventCounts, type EventType, type Listener, type Message, type Queue, type Schedule, type StatsWindows } from './types.js';

// What both stores share: how rows become domain objects and back. Booleans arrive as 0/1 from
// SQLite and true/false from PostgreSQL; JSON is kept as text in both.

export type Row = Record<string, unknown>;

export const toClient = (r: Row): ApiClient => ({
  id: r.id as string,
  name: r.name as string,
  is_root: r.is_root === 1 || r.is_root === true,
  status: r.status as ApiClient['status'],
  quotas: JSON.parse(r.quotas as string),
  created_at: r.created_at as number,
  updated_at: r.updated_at as number,
  revision: r.revision as number,
});
export const toKey = (r: Row): ApiKey => ({ ...(r as unknown as ApiKey), scopes: JSON.parse(r.scopes as string) });
export const toQueue = (r: Row): Queue => ({ ...(r as unknown as Queue), schema: r.schema === null ? null : JSON.parse(r.schema as string) });
export const toListener = (r: Row): Listener => r as unknown as Listener;
export const toMessage = (r: Row): Message => r as unknown as Message;

/** The built-in api client of the operator's root keys. */
export function newRootClient(at: number): ApiClient {
  return { id: 'root', name: 'discue/root', is_root: true, status: 'active', quotas: {}, created_at: at, updated_at: at, revision: 1 };
}

// Each listener with pending deliveries, one index seek per listener (a loose index scan).
export const LISTENERS_WITH_PENDING = `WITH RECURSIVE ready(id) AS (
    SELECT (SELECT min(listener_id) FROM deliveries WHERE state = 'pending')
    UNION ALL
    SELECT (SELECT min(listener_id) FROM deliveries WHERE state = 'pending' AND listener_id > ready.id) FROM ready WHERE ready.id IS NOT NULL)
  SELECT id FROM ready WHERE id IS NOT NULL`;

/** Room per listener for a claim: how many more deliveries each may have in flight. */
export function roomFor(claim: ClaimRequest): Map<string, number> {
  const room = new Map<string, number>();
  for (const [id, n] of claim.inFlight) room.set(id, claim.perListener - n);
  return room;
}

/** The rows whose listener still has room, counting each taken row against that room. */
export function takeWithRoom(rows: readonly Row[], room: Map<string, number>, perListener: number): Row[] {
  return rows.filter((row) => {
    const left = room.get(row.l_id as string) ?? perListener;
    room.set(row.l_id as string, left - 1);
    return left > 0;
  });
}

/** A delivery row, joined with its listener's name (`l_name`), as a message's GET shows it. */
export function toDeliveryView(r: Row): DeliveryView {
  return {
    listener: { id: r.listener_id as string, name: r.l_name as string },
    state: r.state as DeliveryState,
    attempts: r.attempts as number,
    last_status_code: r.last_status as number | null,
    last_error: r.last_error as string | null,
    last_attempt_at: r.last_attempt_at as number | null,
    next_attempt_at: r.state === 'pending' ? (r.due_at as number) : null,
  };
}

export function toEvent(r: Row): UsageEvent {
  return { id: r.id as string, client_id: r.client_id as string, type: r.type as EventType, stored_at: r.stored_at as number, ...JSON.parse(r.refs as string) };
}

export function toIdempotentPublish(r: Row): IdempotentPublish {
  return { key: r.key as string, request_hash: r.request_hash as string, response: JSON.parse(r.response as string), created_at: r.created_at as number };
}

export const toSchedule = (r: Row): Schedule => r as unknown as Schedule;

/** Column values as both drivers bind them: objects become JSON, booleans integers. */
export function bindable(value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'object') return JSON.stringify(value);
  return value;
}

/** The `GET /events?events=` kind of an event type: the resource it is about. */
export function eventCategory(type: EventType): string {
  return `${type.split('_')[0] === 'api' ? 'api_key' : type.split('_')[0]}s`;
}

// Mutable columns per table: the only names ever interpolated into SQL.
export const MUTABLE: Record<string, readonly string[]> = {
  api_clients: ['name', 'status', 'quotas'],
  api_keys: ['name', 'status', 'scopes'],
  queues: ['name', 'schema', 'schema_id'],
  listeners: ['name', 'notify_url', 'liveness_url'],
  messages: ['name'],
  schedules: ['name', 'cron', 'timezone', 'data', 'message_name', 'status', 'next_run_at'],
};

export function toJob(r: Row, lease: number): DeliveryJob {
  return {
    message: { id: r.m_id as string, name: r.m_name as string | null, data: r.data as string, created_at: r.m_created_at as number },
    queue: { id: r.q_id as string, name: r.q_name as string },
    listener: {
      id: r.l_id as string,
      name: r.l_name as string,
      client_id: r.client_id as string,
      notify_url: r.notify_url as string,
      secret: r.secret as string,
      previous_secret: r.previous_secret as string | null,
      previous_secret_until: r.previous_secret_until as number | null,
    },
    attempts: r.attempts as number,
    lease,
  };
}

/** Turns per-type rows of window sums into one complete count per window, zeros included. */
export function tallyByWindow(rows: Row[]): Record<keyof StatsWindows, EventCounts> {
  const zeros = () => Object.fromEntries(EVENT_TYPES.map((t) => [t, 0])) as EventCounts;
  const result = { last24h: zeros(), last1h: zeros(), today: zeros() };
  for (const row of rows) {
    const type = row.type as EventType;
    if (!(type in result.last24h)) continue;
    for (const window of ['last24h', 'last1h', 'today'] as const) result[window][type] = Number(row[window] ?? 0);
  }
  return result;
}
