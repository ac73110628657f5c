import type { Access, Resource } from '../../src/domain/scopes.js';
import type { Tenant } from './server.js';

export interface RouteCase {
  method: string;
  path: (t: Tenant) => string;
  resource: Resource;
  access: Access;
  body?: (t: Tenant) => unknown;
}

/** Every tenant route of the API with a valid request against a seeded tenant's resources. */
export const TENANT_ROUTES: RouteCase[] = [
  { method: 'POST', path: () => '/api_keys', resource: 'api_keys', access: 'write', body: () => ({ name: 'k' }) },
  { method: 'GET', path: () => '/api_keys', resource: 'api_keys', access: 'read' },
  { method: 'GET', path: (t) => `/api_keys/${t.keyId}`, resource: 'api_keys', access: 'read' },
  { method: 'PUT', path: (t) => `/api_keys/${t.keyId}`, resource: 'api_keys', access: 'write', body: () => ({ name: 'renamed' }) },
  { method: 'DELETE', path: (t) => `/api_keys/${t.keyId}`, resource: 'api_keys', access: 'write' },
  { method: 'GET', path: (t) => `/api_clients/${t.clientId}`, resource: 'api_clients', access: 'read' },
  { method: 'PUT', path: (t) => `/api_clients/${t.clientId}`, resource: 'api_clients', access: 'write', body: () => ({ name: 'renamed.example.com' }) },
  { method: 'POST', path: () => '/queues', resource: 'queues', access: 'write', body: () => ({ name: 'another' }) },
  { method: 'GET', path: () => '/queues', resource: 'queues', access: 'read' },
  { method: 'GET', path: (t) => `/queues/${t.queueId}`, resource: 'queues', access: 'read' },
  { method: 'PUT', path: (t) => `/queues/${t.queueId}`, resource: 'queues', access: 'write', body: () => ({ name: 'renamed' }) },
  { method: 'DELETE', path: (t) => `/queues/${t.queueId}`, resource: 'queues', access: 'write' },
  { method: 'GET', path: (t) => `/queues/${t.queueId}/schemas/${t.schemaId}`, resource: 'schemas', access: 'read' },
  {
    method: 'POST',
    path: (t) => `/queues/${t.queueId}/listeners`,
    resource: 'listeners',
    access: 'write',
    body: () => ({ name: 'l2', notify_url: 'http://127.0.0.1:9/n', liveness_url: 'http://127.0.0.1:9/l' }),
  },
  { method: 'GET', path: () => '/listeners', resource: 'listeners', access: 'read' },
  { method: 'GET', path: (t) => `/queues/${t.queueId}/listeners`, resource: 'listeners', access: 'read' },
  { method: 'GET', path: (t) => `/queues/${t.queueId}/listeners/${t.listenerId}`, resource: 'listeners', access: 'read' },
  { method: 'PUT', path: (t) => `/queues/${t.queueId}/listeners/${t.listenerId}`, resource: 'listeners', access: 'write', body: () => ({ name: 'renamed' }) },
  { method: 'DELETE', path: (t) => `/queues/${t.queueId}/listeners/${t.listenerId}`, resource: 'listeners', access: 'write' },
  { method: 'POST', path: (t) => `/queues/${t.queueId}/messages`, resource: 'messages', access: 'write', body: () => ({ data: '{"user":"bo"}' }) },
  { method: 'GET', path: () => '/messages', resource: 'messages', access: 'read' },
  { method: 'GET', path: (t) => `/queues/${t.queueId}/messages`, resource: 'messages', access: 'read' },
  { method: 'GET', path: (t) => `/queues/${t.queueId}/messages/${t.messageId}`, resource: 'messages', access: 'read' },
  { method: 'PUT', path: (t) => `/queues/${t.queueId}/messages/${t.messageId}`, resource: 'messages', access: 'write', body: () => ({ name: 'renamed' }) },
  { method: 'DELETE', path: (t) => `/queues/${t.queueId}/messages/${t.messageId}`, resource: 'messages', access: 'write' },
  { method: 'GET', path: () => '/events', resource: 'events', access: 'read' },
  { method: 'GET', path: () => '/stats/messages', resource: 'stats', access: 'read' },
];

const probe = (mark: string): Tenant => ({
  clientId: `c${mark}`,
  key: `k${mark}`,
  queueId: `q${mark}`,
  listenerId: `l${mark}`,
  messageId: `m${mark}`,
  keyId: `a${mark}`,
  schemaId: `s${mark}`,
});

/** Routes that address a resource by id (their path depends on the tenant). */
export const ADDRESSED_ROUTES = TENANT_ROUTES.filter((r) => r.path(probe('1')) !== r.path(probe('2')));
