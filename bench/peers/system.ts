import type { HttpTarget } from '../load.js';
import type { Child } from '../processes.js';

/** A system under test that takes discue's publish request: discue itself, the ceiling, or a peer. */
export interface PublishSystem {
  name: string;
  child: Child;
  target: HttpTarget;
  stop(): Promise<void>;
}
