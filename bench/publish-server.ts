/**
 * What the ceiling and the peers share: a bare node:http server taking discue's publish request
 * (`POST /v1/queues/:id/messages`, JSON `{"name", "data"}`), and the sending side that POSTs a
 * discue-shaped delivery body to a listener over pooled keep-alive connections.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent, request } from 'undici';
import { HOST } from './processes.js';

export interface Publish {
  queueId: string;
  name: string | null;
  data: string;
}

const PUBLISH_PATH = /^\/(?:v1\/)?queues\/([^/?]+)\/messages(?:\?.*)?$/;

function reply(res: import('node:http').ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
}

/**
 * Serves the publish route on `port`: `accept` stores the message (or not) and answers the
 * message id; the answer is a 200 JSON body, as discue's is.
 */
export async function servePublish(port: number, accept: (p: Publish) => Promise<string> | string): Promise<{ server: Server; url: string }> {
  const server = createServer({ keepAliveTimeout: 60_000, requestTimeout: 0 }, (req, res) => {
    const match = req.method === 'POST' || req.method === 'PUT' ? PUBLISH_PATH.exec(req.url ?? '') : null;
    if (!match) {
      req.resume();
      return reply(res, req.url === '/health' ? 200 : 404, req.url === '/health' ? '{"ok":true}' : '{"title":"Not Found","status":404}');
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: { name?: unknown; data?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString());
      } catch {
        return reply(res, 400, '{"title":"Bad Request","status":400}');
      }
      if (typeof body?.data !== 'string') return reply(res, 400, '{"title":"Bad Request","status":400}');
      const name = typeof body.name === 'string' ? body.name : null;
      Promise.resolve()
        .then(() => accept({ queueId: match[1]!, name, data: body.data as string }))
        .then(
          (id) => reply(res, 200, JSON.stringify({ message: { id, name, queue_id: match[1], created_at: Date.now() } })),
          () => reply(res, 503, '{"title":"Service Unavailable","status":503}'),
        );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, HOST, resolve);
  });
  return { server, url: `http://${HOST}:${(server.address() as AddressInfo).port}` };
}

/** The body discue sends a listener, for a message with this id, name and data. */
export function deliveryBody(id: string, name: string | null, data: string, createdAt: number, queueId: string): string {
  return JSON.stringify({ message: { id, name, data, created_at: createdAt }, queue: { id: queueId, name: queueId } });
}

/** Keep-alive pooled sending, as discue's sender does. */
export class Poster {
  private readonly agent: Agent;

  constructor(connections: number, private readonly timeoutMs = 10_000) {
    this.agent = new Agent({ connections, keepAliveTimeout: 30_000, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  }

  /** POSTs `body` to `url`; resolves true on a 2xx answer. */
  async post(url: string, body: string, headers: Record<string, string> = {}): Promise<boolean> {
    try {
      const res = await request(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await res.body.dump();
      return res.statusCode >= 200 && res.statusCode < 300;
    } catch {
      return false;
    }
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
