import type { FastifyInstance, FastifyRequest } from 'fastify';
import { parseCron } from '../../domain/cron.js';
import { ref, usageEvent } from '../../domain/events.js';
import { newId } from '../../domain/ids.js';
import { dataProblem } from '../../domain/messages.js';
import type { Queue, Schedule, SchedulePatch } from '../../store/types.js';
import { HttpError } from '../errors.js';
import { scopesOf } from '../guard.js';
import { linker, type Links } from '../links.js';
import { listQuerySchema, sendList, type PageQuery } from '../paging.js';
import { dropUndefined, expectedRevision, found, sendOne } from '../resource.js';
import { nameSchema, paramsSchema } from '../schemas.js';
import type { Services } from '../services.js';
import { queueLink, queueParams, requestedQueue, type QueueParams } from './queues.js';

const scheduleBody = {
  type: 'object',
  properties: {
    name: nameSchema,
    cron: { type: 'string', minLength: 1, maxLength: 200 },
    timezone: { type: 'string', minLength: 1, maxLength: 64 },
    data: { type: 'string' },
    message_name: { anyOf: [nameSchema, { type: 'null' }] },
    status: { enum: ['enabled', 'paused'] },
  },
} as const;
interface ScheduleBody {
  name?: string;
  cron?: string;
  timezone?: string;
  data?: string;
  message_name?: string | null;
  status?: Schedule['status'];
}

const scheduleParams = paramsSchema('queue_id', 'schedule_id');
type ScheduleParams = QueueParams & { schedule_id: string };

function scheduleView(schedule: Schedule) {
  const { client_id: _client, revision: _revision, ...view } = schedule;
  return view;
}

function scheduleLinks(request: FastifyRequest, services: Services, schedule: Schedule): Links {
  const at = queueLink(request, services);
  return { self: at(schedule.queue_id, `/schedules/${schedule.id}`), queue: at(schedule.queue_id) };
}

/** The next tick of a cron in a zone after `now`, or a 400 saying what is wrong with them. */
function nextTick(cron: string, timezone: string, now: number): number {
  const parsed = parseCron(cron, timezone);
  if (!parsed.ok) throw new HttpError(400, parsed.reason, [{ path: /timezone/.test(parsed.reason) ? 'timezone' : 'cron', message: parsed.reason }]);
  const next = parsed.schedule.next(now);
  if (next === undefined) throw new HttpError(400, `cron "${cron}" never fires again`, [{ path: 'cron', message: 'never fires again' }]);
  return next;
}

/** A schedule's data must be publishable to its queue when it is set. */
function checkData(data: string, queue: Queue, services: Services): void {
  const problem = dataProblem(data, queue, services.schemas, services.config.maxDataBytes);
  if (problem) throw new HttpError(problem.status, problem.detail, problem.issues);
}

export function scheduleRoutes(app: FastifyInstance, services: Services): void {
  const { store } = services;
  const { read, write } = scopesOf('schedules');

  app.route<{ Params: QueueParams; Body: ScheduleBody }>({
    method: ['POST', 'PUT'],
    url: '/queues/:queue_id/schedules',
    config: write,
    schema: { summary: 'Create a schedule (PUT creates too)', tags: ['schedules'], params: queueParams, body: { ...scheduleBody, required: ['name', 'cron', 'data'] } },
    handler: async (request, reply) => {
      const queue = await requestedQueue(request, services);
      const body = request.body;
      const at = services.now();
      const timezone = body.timezone ?? 'UTC';
      const next = nextTick(body.cron!, timezone, at);
      checkData(body.data!, queue, services);
      const status = body.status ?? 'enabled';
      const schedule: Schedule = {
        id: newId(),
        client_id: queue.client_id,
        queue_id: queue.id,
        name: body.name!,
        cron: body.cron!,
        timezone,
        data: body.data!,
        message_name: body.message_name ?? null,
        status,
        next_run_at: status === 'enabled' ? next : null,
        last_run_at: null,
        run_count: 0,
        created_at: at,
        updated_at: at,
        revision: 1,
      };
      const limit = request.principal.client.quotas.max_schedules ?? services.config.quotas.max_schedules;
      await store.createSchedule(schedule, usageEvent('schedule_added', queue.client_id, at, { queue: ref(queue), schedule: ref(schedule) }), limit);
      services.onScheduled();
      return sendOne(reply, 'schedule', scheduleView(schedule), scheduleLinks(request, services, schedule), schedule.revision);
    },
  });

  app.get<{ Params: QueueParams; Querystring: PageQuery }>(
    '/queues/:queue_id/schedules',
    { config: read, schema: { summary: 'List a queue\'s schedules', tags: ['schedules'], params: queueParams, querystring: listQuerySchema } },
    async (request, reply) => {
      const queue = await requestedQueue(request, services);
      return sendList(request, reply, {
        key: 'schedules',
        path: `/queues/${queue.id}/schedules`,
        link: linker(request, services.config.publicUrl),
        fetch: (page) => store.listSchedules(queue.client_id, queue.id, page),
        itemPath: (s) => `/queues/${s.queue_id}/schedules/${s.id}`,
        view: scheduleView,
      });
    },
  );

  const requestedSchedule = async (request: FastifyRequest<{ Params: ScheduleParams }>) =>
    found(await store.getSchedule(request.principal.client.id, request.params.queue_id, request.params.schedule_id), 'schedule');

  app.get<{ Params: ScheduleParams }>('/queues/:queue_id/schedules/:schedule_id', { config: read, schema: { summary: 'Get a schedule', tags: ['schedules'], params: scheduleParams } }, async (request, reply) => {
    const schedule = await requestedSchedule(request);
    return sendOne(reply, 'schedule', scheduleView(schedule), scheduleLinks(request, services, schedule), schedule.revision);
  });

  app.put<{ Params: ScheduleParams; Body: ScheduleBody }>(
    '/queues/:queue_id/schedules/:schedule_id',
    { config: write, schema: { summary: 'Update, pause or resume a schedule', tags: ['schedules'], params: scheduleParams, body: scheduleBody } },
    async (request, reply) => {
      const current = await requestedSchedule(request);
      const queue = await requestedQueue(request, services);
      const body = request.body;
      const at = services.now();
      const merged = { ...current, ...dropUndefined(body) };
      // A change of timing, or a resume, counts from now; a paused schedule has no next tick.
      const next = nextTick(merged.cron, merged.timezone, at);
      const timingChanged = body.cron !== undefined || body.timezone !== undefined || (body.status === 'enabled' && current.status === 'paused');
      if (body.data !== undefined) checkData(body.data, queue, services);
      // next_run_at is written only when the timing changes: a change of data or name must not
      // move it back over a tick fired meanwhile (which would fire that tick twice).
      const patch: SchedulePatch = {
        ...dropUndefined(body),
        ...(merged.status === 'paused' ? { next_run_at: null } : timingChanged || current.next_run_at === null ? { next_run_at: next } : {}),
      };
      const schedule = await store.updateSchedule(current.client_id, current.queue_id, current.id, {
        patch,
        updatedAt: at,
        expectedRevision: expectedRevision(request),
        event: usageEvent('schedule_updated', current.client_id, at, { queue: ref(queue), schedule: ref({ id: current.id, name: merged.name }) }),
      });
      services.onScheduled();
      return sendOne(reply, 'schedule', scheduleView(schedule), scheduleLinks(request, services, schedule), schedule.revision);
    },
  );

  app.delete<{ Params: ScheduleParams }>('/queues/:queue_id/schedules/:schedule_id', { config: write, schema: { summary: 'Delete a schedule', tags: ['schedules'], params: scheduleParams } }, async (request, reply) => {
    const schedule = await requestedSchedule(request);
    const queue = await requestedQueue(request, services);
    await store.deleteSchedule(schedule.client_id, schedule.queue_id, schedule.id, usageEvent('schedule_deleted', schedule.client_id, services.now(), { queue: ref(queue), schedule: ref(schedule) }));
    return sendOne(reply, 'schedule', scheduleView(schedule), scheduleLinks(request, services, schedule));
  });
}
