import { newId } from './ids.js';
import type { EventType, Ref, UsageEvent } from '../store/types.js';

type Refs = Partial<Record<'api_key' | 'queue' | 'listener' | 'message' | 'schedule', Ref>>;

/** A usage event, to be written in the transaction of the mutation it describes. */
export function usageEvent(type: EventType, clientId: string, at: number, refs: Refs): UsageEvent {
  return { id: newId(), client_id: clientId, type, stored_at: at, ...refs };
}

export const ref = (row: { id: string; name: string | null }): Ref => ({ id: row.id, name: row.name });
