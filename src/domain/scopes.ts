// Scopes say which resources a key may read or write, optionally only some of them by id.

export const RESOURCES = [
  'api_clients',
  'api_keys',
  'events',
  'queues',
  'listeners',
  'messages',
  'schemas',
  'stats',
  'subscriptions',
  'schedules',
] as const;
export type Resource = (typeof RESOURCES)[number];

/** Resources a key can never be granted through the API: they manage tenancy itself. */
export const PROTECTED_RESOURCES: readonly Resource[] = ['api_clients', 'api_keys', 'subscriptions'];

export type Access = 'read' | 'write';

export interface Scope {
  resource: Resource;
  access: Access;
  targets: string[];
}

export const ALL_TARGETS = '*';

/** What a key gets when it is created without scopes: everything but the protected resources. */
export function defaultScopes(): Scope[] {
  return RESOURCES.filter((r) => !PROTECTED_RESOURCES.includes(r)).map((resource) => ({
    resource,
    access: 'write',
    targets: [ALL_TARGETS],
  }));
}

/** Every scope there is, protected ones included: the root key and a new client's first key. */
export function fullScopes(): Scope[] {
  return RESOURCES.map((resource) => ({ resource, access: 'write', targets: [ALL_TARGETS] }));
}

export function isProtected(scope: Scope): boolean {
  return PROTECTED_RESOURCES.includes(scope.resource);
}

/**
 * Whether the scopes allow `access` to `resource` for a request about `ids` (the ids in its
 * path, outermost first: a queue id covers the listeners and messages below it). A request
 * about no id at all (a top-level collection) needs a scope that targets every resource.
 */
export function allows(scopes: readonly Scope[], resource: Resource, access: Access, ids: readonly string[]): boolean {
  return scopes.some(
    (scope) =>
      scope.resource === resource &&
      (scope.access === 'write' || access === 'read') &&
      (scope.targets.includes(ALL_TARGETS) || ids.some((id) => scope.targets.includes(id))),
  );
}
