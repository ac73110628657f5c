import type { Quotas } from '../config.js';
import type { Scope } from '../domain/scopes.js';

// Rows as the store keeps them. Times are epoch milliseconds; `revision` grows on every update
// of a resource's mutable fields and backs its ETag.

export type ClientStatus = 'active' | 'suspended';
export interface ApiClient {
  id: string;
  name: string;
  is_root: boolean;
  status: ClientStatus;
  quotas: Partial<Quotas>;
  created_at: number;
  updated_at: number;
  revision: number;
}

export type KeyStatus = 'enabled' | 'disabled';
export interface ApiKey {
  id: string;
  client_id: string;
  name: string;
  key_prefix: string;
  key_hash: string;
  status: KeyStatus;
  scopes: Scope[];
  created_at: number;
  updated_at: number;
  last_used_at: number | null;
  revision: number;
}

export interface Queue {
  id: string;
  client_id: string;
  name: string;
  schema: Record<string, unknown> | null;
  schema_id: string | null;
  created_at: number;
  updated_at: number;
  revision: number;
}

export type LivenessState = 'stable' | 'unstable' | 'dead';
export interface Listener {
  id: string;
  client_id: string;
  queue_id: string;
  name: string;
  notify_url: string;
  liveness_url: string;
  secret: string;
  liveness_state: LivenessState;
  liveness_success_count: number;
  liveness_failure_count: number;
  acknowledged_count: number;
  missed_count: number;
  /** The secret before the last rotation, still signed with until `previous_secret_until`. */
  previous_secret: string | null;
  previous_secret_until: number | null;
  /** Consecutive probe results: positive successes, negative failures. */
  liveness_streak: number;
  next_probe_at: number;
  created_at: number;
  updated_at: number;
  revision: number;
}

export interface Message {
  id: string;
  client_id: string;
  queue_id: string;
  name: string | null;
  data: string;
  /** When its deliveries fall due, if later than its creation. */
  deliver_at: number | null;
  /** The schedule that fired it, if one did. */
  schedule_id: string | null;
  created_at: number;
  updated_at: number;
  revision: number;
}

export type ScheduleStatus = 'enabled' | 'paused';
export interface Schedule {
  id: string;
  client_id: string;
  queue_id: string;
  name: string;
  cron: string;
  timezone: string;
  data: string;
  message_name: string | null;
  status: ScheduleStatus;
  /** The next tick, null while paused. */
  next_run_at: number | null;
  last_run_at: number | null;
  run_count: number;
  created_at: number;
  updated_at: number;
  revision: number;
}

/** One tick of a schedule, claimed by moving `next_run_at` from `due` to `next`. */
export interface Tick {
  schedule: Schedule;
  due: number;
  next: number | null;
  at: number;
  /** The message the tick publishes, or the event saying why it could not. */
  outcome: { message: Message; event: UsageEvent } | { message?: undefined; event: UsageEvent };
}

export const EVENT_TYPES = [
  'api_key_added',
  'api_key_updated',
  'api_key_deleted',
  'queue_added',
  'queue_updated',
  'queue_deleted',
  'listener_added',
  'listener_updated',
  'listener_deleted',
  'message_added',
  'message_updated',
  'message_deleted',
  'message_published_ok',
  'message_published_not_ok',
  'schedule_added',
  'schedule_updated',
  'schedule_deleted',
  'schedule_failed',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The kinds `GET /events?events=` filters by: an event's kind is the resource it is about. */
export const EVENT_CATEGORIES = ['api_keys', 'listeners', 'messages', 'queues', 'schedules'] as const;
export type EventCategory = (typeof EVENT_CATEGORIES)[number];

export interface Ref {
  id: string;
  name: string | null;
}
export interface UsageEvent {
  id: string;
  client_id: string;
  type: EventType;
  stored_at: number;
  api_key?: Ref;
  queue?: Ref;
  listener?: Ref;
  message?: Ref;
  schedule?: Ref;
}

/** The first answer to a publish made with an Idempotency-Key. */
export interface IdempotentPublish {
  key: string;
  /** A hash of what was asked (queue and body): a repeat must ask the same. */
  request_hash: string;
  /** The message as the answer showed it. */
  response: Record<string, unknown>;
  created_at: number;
}

export interface Page {
  offset: number;
  limit: number;
}
export interface PageOf<T> {
  items: T[];
  hasMore: boolean;
}

export interface EventQuery {
  clientId: string;
  category: EventCategory | undefined;
  /** Exclusive cursor: events after (at, id) in (stored_at, id) order. */
  after: { at: number; id: string };
  limit: number;
}

export type EventCounts = Record<EventType, number>;
export interface StatsWindows {
  last24h: number;
  last1h: number;
  today: number;
}

export type DeliveryState = 'pending' | 'held' | 'acknowledged' | 'missed';

/** A claimed delivery: everything needed to send it without another query. */
export interface DeliveryJob {
  message: { id: string; name: string | null; data: string; created_at: number };
  queue: { id: string; name: string };
  listener: Pick<Listener, 'id' | 'name' | 'client_id' | 'notify_url' | 'secret' | 'previous_secret' | 'previous_secret_until'>;
  /** Attempts completed before this one. */
  attempts: number;
  /** The lease this claim holds: an outcome counts only while the delivery still has it. */
  lease: number;
}

export interface ClaimRequest {
  now: number;
  leaseUntil: number;
  limit: number;
  /** Most deliveries one listener may have in flight. */
  perListener: number;
  /** Deliveries in flight per listener now. */
  inFlight: ReadonlyMap<string, number>;
}

/** What became of one attempt. `retry` and `missed` carry the failure. */
export type DeliveryOutcome = {
  messageId: string;
  listenerId: string;
  /** The lease of the claim that made the attempt (see DeliveryJob.lease). */
  lease: number;
  at: number;
  status: number | null;
  error: string | null;
  event?: UsageEvent;
} & ({ kind: 'acknowledged' } | { kind: 'retry'; dueAt: number } | { kind: 'missed' });

/** A message's delivery to one listener, as its GET shows it. */
export interface DeliveryView {
  listener: Ref;
  state: DeliveryState;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  last_attempt_at: number | null;
  next_attempt_at: number | null;
}

export interface ProbeTarget {
  id: string;
  liveness_url: string;
}

export interface LivenessChange {
  from: LivenessState;
  to: LivenessState;
}

export type ClientPatch = Partial<Pick<ApiClient, 'name' | 'status' | 'quotas'>>;
export type KeyPatch = Partial<Pick<ApiKey, 'name' | 'status' | 'scopes'>>;
export type QueuePatch = Partial<Pick<Queue, 'name' | 'schema' | 'schema_id'>>;
export type ListenerPatch = Partial<Pick<Listener, 'name' | 'notify_url' | 'liveness_url'>>;
export type MessagePatch = Partial<Pick<Message, 'name'>>;
export type SchedulePatch = Partial<Pick<Schedule, 'name' | 'cron' | 'timezone' | 'data' | 'message_name' | 'status' | 'next_run_at'>>;

/** A write that may be conditional on the revision the client last saw (`If-Match`). */
export interface Update<P> {
  patch: P;
  updatedAt: number;
  expectedRevision?: number;
  event?: UsageEvent;
}

/**
 * Everything the server keeps. Every mutation that a usage event describes writes that event
 * in the same transaction. Lookups are scoped by api client: a row of another client is not
 * found. Errors: see ./errors.ts.
 */
export interface Store {
  close(): Promise<void>;
  /** Whether an error means the storage is unavailable for now (503), not a bug (500). */
  isUnavailable(err: unknown): boolean;
  /** Calls `onWork` when another process stores work (new deliveries, changed schedules). */
  watchWork(onWork: () => void): Promise<() => Promise<void>>;

  // tenancy
  rootClient(): Promise<ApiClient>;
  createClient(client: ApiClient, firstKey: ApiKey, event: UsageEvent): Promise<void>;
  getClient(id: string): Promise<ApiClient | undefined>;
  listClients(page: Page): Promise<PageOf<ApiClient>>;
  updateClient(id: string, update: Update<ClientPatch>): Promise<ApiClient>;
  deleteClient(id: string): Promise<void>;

  // api keys
  findKeyByHash(hash: string): Promise<{ key: ApiKey; client: ApiClient } | undefined>;
  createKey(key: ApiKey, event: UsageEvent | undefined, maxKeys: number): Promise<void>;
  upsertKey(key: ApiKey): Promise<void>;
  getKey(clientId: string, id: string): Promise<ApiKey | undefined>;
  listKeys(clientId: string, page: Page): Promise<PageOf<ApiKey>>;
  updateKey(clientId: string, id: string, update: Update<KeyPatch>): Promise<ApiKey>;
  deleteKey(clientId: string, id: string, event: UsageEvent | undefined): Promise<void>;
  recordKeyUse(lastUsed: ReadonlyMap<string, number>): Promise<void>;

  // queues
  createQueue(queue: Queue, event: UsageEvent, maxQueues: number): Promise<void>;
  getQueue(clientId: string, id: string): Promise<Queue | undefined>;
  listQueues(clientId: string, page: Page): Promise<PageOf<Queue>>;
  updateQueue(clientId: string, id: string, update: Update<QueuePatch>): Promise<Queue>;
  deleteQueue(clientId: string, id: string, event: UsageEvent): Promise<void>;

  // listeners
  createListener(listener: Listener, event: UsageEvent, maxListeners: number): Promise<void>;
  getListener(clientId: string, queueId: string, id: string): Promise<Listener | undefined>;
  listListeners(clientId: string, queueId: string | undefined, page: Page): Promise<PageOf<Listener>>;
  updateListener(clientId: string, queueId: string, id: string, update: Update<ListenerPatch>): Promise<Listener>;
  deleteListener(clientId: string, queueId: string, id: string, event: UsageEvent): Promise<void>;
  missedMessageIds(listenerId: string, limit: number): Promise<string[]>;
  rotateListenerSecret(clientId: string, queueId: string, id: string, secret: string, previousUntil: number, at: number): Promise<Listener>;

  // messages
  /**
   * Stores the message; with `idempotent`, the key too (DuplicateError if it was taken
   * meanwhile). Answers how many deliveries it created: none means no worker needs waking.
   */
  createMessage(message: Message, event: UsageEvent, idempotent?: IdempotentPublish): Promise<number>;
  /** Keys are kept until purged with the usage events (25 hours). */
  findIdempotentPublish(clientId: string, key: string): Promise<IdempotentPublish | undefined>;
  getMessage(clientId: string, queueId: string, id: string): Promise<Message | undefined>;
  listMessages(clientId: string, queueId: string | undefined, page: Page): Promise<PageOf<Message>>;
  updateMessage(clientId: string, queueId: string, id: string, update: Update<MessagePatch>): Promise<Message>;
  deleteMessage(clientId: string, queueId: string, id: string, event: UsageEvent): Promise<void>;

  // schedules
  createSchedule(schedule: Schedule, event: UsageEvent, maxSchedules: number): Promise<void>;
  getSchedule(clientId: string, queueId: string, id: string): Promise<Schedule | undefined>;
  listSchedules(clientId: string, queueId: string, page: Page): Promise<PageOf<Schedule>>;
  updateSchedule(clientId: string, queueId: string, id: string, update: Update<SchedulePatch>): Promise<Schedule>;
  deleteSchedule(clientId: string, queueId: string, id: string, event: UsageEvent): Promise<void>;
  /** Enabled schedules whose next tick is due, with their queue. */
  dueSchedules(now: number, limit: number): Promise<{ schedule: Schedule; queue: Queue }[]>;
  /**
   * Fires a tick exactly once: only the caller whose conditional move of `next_run_at` from
   * `tick.due` succeeds publishes; it returns false to every other.
   */
  fireTick(tick: Tick): Promise<boolean>;
  /** When the earliest enabled schedule falls due, if any. */
  nextTickAt(): Promise<number | undefined>;

  // delivery
  /** Leases due deliveries until `claim.leaseUntil`, as many as the listeners have room for. */
  claimDeliveries(claim: ClaimRequest): Promise<DeliveryJob[]>;
  recordOutcomes(outcomes: readonly DeliveryOutcome[]): Promise<void>;
  /** When the earliest pending delivery falls due, if any. */
  nextDueAt(): Promise<number | undefined>;
  /** Deliveries waiting to be sent or in flight (state `pending`): the backlog, for metrics. */
  countPendingDeliveries(): Promise<number>;
  /** How many listeners are in each liveness state, for metrics. */
  countListenersByState(): Promise<Record<LivenessState, number>>;
  deliveriesOf(messageId: string): Promise<DeliveryView[]>;
  /** Sends missed messages (all, or those listed) to the listener again; returns how many. */
  redeliver(listenerId: string, messageIds: readonly string[] | undefined, now: number): Promise<number>;
  /** Listeners whose probe is due, each pushed to `nextProbeAt`. */
  claimProbes(now: number, nextProbeAt: number, limit: number): Promise<ProbeTarget[]>;
  /** Counts a probe result, which may change the listener's liveness state. */
  recordProbe(listenerId: string, ok: boolean, at: number): Promise<LivenessChange | undefined>;
  /**
   * Brings up to `limit` deliveries of a listener in line with its liveness: while it is dead
   * its pending deliveries are held (they wait without using attempts); otherwise its held
   * ones are pending again, due no earlier than `at`. Returns how many changed. Called in
   * batches until none is left, so a listener with a long backlog never blocks the store.
   */
  alignDeliveries(listenerId: string, at: number, limit: number): Promise<number>;
  /** Deletes up to `batch` messages older than `before` whose every delivery was acknowledged. */
  purgeAcknowledgedMessages(before: number, batch: number): Promise<number>;

  // usage events
  listEvents(query: EventQuery): Promise<UsageEvent[]>;
  countEvents(clientId: string, windows: StatsWindows): Promise<Record<keyof StatsWindows, EventCounts>>;
  /** Deletes up to `batch` usage events and idempotency keys older than `at`. */
  purgeEventsBefore(at: number, batch: number): Promise<number>;
}
