// What a store reports besides "not found" (which is `undefined` for reads). The HTTP layer
// maps each to a status code; nothing else in the store throws on purpose.

export class NotFoundError extends Error {
  constructor(what: string) {
    super(`${what} not found`);
  }
}

/** A name that must be unique is taken. */
export class DuplicateError extends Error {
  constructor(readonly field: string, readonly value: string) {
    super(`${field} "${value}" already exists`);
  }
}

/** The row changed since the revision the client expected (`If-Match`). */
export class RevisionConflictError extends Error {
  constructor(readonly currentRevision: number) {
    super('the resource changed since it was read');
  }
}

/** An operator quota would be exceeded. */
export class QuotaExceededError extends Error {
  constructor(readonly quota: string, readonly limit: number) {
    super(`quota ${quota} (${limit}) reached`);
  }
}
