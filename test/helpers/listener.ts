import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  at: number;
}

export interface Answer {
  status: number;
  headers?: Record<string, string>;
  /** Hold the answer until this resolves (a slow listener, released by the test). */
  after?: Promise<void>;
}

type Behaviour = (request: Received, index: number) => Answer;

/**
 * A real HTTP listener on 127.0.0.1 that records what it receives and answers as told.
 * `received(n)` resolves once n requests to a path arrived: tests await events, not time.
 */
export class TestListener {
  readonly requests: Received[] = [];
  private readonly server: Server;
  private readonly waiters: { path: string; count: number; resolve: () => void }[] = [];
  private readonly held = new Set<ServerResponse>();
  behaviour: Record<string, Behaviour> = {};

  constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  static async start(behaviour: Record<string, Behaviour> = {}): Promise<TestListener> {
    const listener = new TestListener();
    listener.behaviour = behaviour;
    await new Promise<void>((resolve) => listener.server.listen(0, '127.0.0.1', resolve));
    return listener;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  to(path: string): Received[] {
    return this.requests.filter((r) => r.path === path);
  }

  /** Resolves when `count` requests to `path` have arrived. */
  received(path: string, count: number): Promise<void> {
    if (this.to(path).length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ path, count, resolve }));
  }

  async close(): Promise<void> {
    for (const res of this.held) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const received: Received = { method: req.method!, path, headers: req.headers, body: Buffer.concat(chunks).toString(), at: Date.now() };
      const index = this.to(path).length;
      this.requests.push(received);
      const answer: Answer = (this.behaviour[path] ?? (() => ({ status: 200 })))(received, index);
      for (const w of this.waiters.filter((w) => w.path === path && this.to(path).length >= w.count)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
      const reply = () => {
        this.held.delete(res);
        if (!res.destroyed) res.writeHead(answer.status, answer.headers).end('{}');
      };
      if (answer.after) {
        this.held.add(res);
        void answer.after.then(reply);
      } else {
        reply();
      }
    });
  }
}

/** Waits for a condition on state the test cannot subscribe to, checking every 20 ms. */
export async function until<T>(check: () => Promise<T | undefined | false>, what: string, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
