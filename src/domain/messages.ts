import type { Message, Queue } from '../store/types.js';
import { newTimeOrderedId } from './ids.js';
import type { SchemaIssue } from './schema.js';
import type { SchemaCache } from './schema-cache.js';

export interface DataProblem {
  status: 413 | 422;
  detail: string;
  issues?: SchemaIssue[];
}

/**
 * Why `data` cannot be published to the queue: larger than the limit, or failing the queue's
 * schema. The same rules hold for the API and for schedules.
 */
export function dataProblem(data: string, queue: Queue, schemas: SchemaCache, maxBytes: number): DataProblem | undefined {
  // Cheap bound first: a UTF-8 byte count is at most 3 per UTF-16 unit, at least 1.
  if (data.length > maxBytes || (data.length * 3 > maxBytes && Buffer.byteLength(data) > maxBytes)) {
    return { status: 413, detail: `data is larger than ${maxBytes} bytes` };
  }
  if (!queue.schema || !queue.schema_id) return undefined;
  const issues = schemas.validatorFor(queue.schema_id, queue.schema)(data);
  if (issues.length === 0) return undefined;
  return { status: 422, detail: `data does not satisfy the queue's schema: ${issues.map((i) => `${i.path} ${i.message}`).join('; ')}`, issues };
}

export function newMessage(
  queue: Queue,
  fields: { name: string | null; data: string; deliverAt?: number; scheduleId?: string },
  now: number,
): Message {
  return {
    id: newTimeOrderedId(now),
    client_id: queue.client_id,
    queue_id: queue.id,
    name: fields.name,
    data: fields.data,
    deliver_at: fields.deliverAt !== undefined && fields.deliverAt > now ? fields.deliverAt : null,
    schedule_id: fields.scheduleId ?? null,
    created_at: now,
    updated_at: now,
    revision: 1,
  };
}
