/**
 * Child processes of the bench: spawning them, waiting until they are ready, talking to them
 * (a small request/answer protocol over the IPC channel), and making sure every one of them is
 * gone when the bench ends, however it ends.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const HOST = '127.0.0.1';

const live = new Set<ChildProcess>();
const cleanups = new Set<() => void>();
const tempDirs = new Set<string>();

/** Kills every child still running, at once, then removes the temporary directories left (also
 * called from the process' `exit` handler). */
export function killAll(): void {
  for (const cleanup of cleanups) {
    try {
      cleanup();
    } catch {
      // best effort
    }
  }
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  for (const dir of tempDirs) removeTempDir(dir);
}

/** A new directory under the system's temporary one, removed at exit at the latest. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    // best effort
  }
  tempDirs.delete(dir);
}

/** Something to undo at exit that is not a child of ours (e.g. a server a library spawned). */
export function atExit(cleanup: () => void): () => void {
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}

let installed = false;
/** Kill all children on exit, on Ctrl-C / SIGTERM, on an uncaught error, and after `deadlineMs`. */
export function installCleanup(deadlineMs: number): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping every child process\n`);
      killAll();
      process.exit(130);
    });
  }
  const deadline = setTimeout(() => {
    process.stderr.write(`\nbench: took longer than ${Math.round(deadlineMs / 1000)} s, giving up\n`);
    killAll();
    process.exit(3);
  }, deadlineMs);
  deadline.unref();
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface Child {
  name: string;
  pid: number;
  process: ChildProcess;
  /** What the readiness pattern matched. */
  ready: RegExpExecArray;
  output(): string;
  /** Asks an IPC child something and waits for its answer. */
  call<T = unknown>(type: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<T>;
  /** Peak resident set size (VmHWM) in KiB, while the process is running. */
  peakRssKb(): number | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  env?: Record<string, string>;
  /** Printed on stdout when the child is ready (default: our children's `BENCH-READY <url>`). */
  ready?: RegExp;
  timeoutMs?: number;
  /** Open an IPC channel (our own TypeScript children). */
  ipc?: boolean;
  cwd?: string;
  /** Inherited variables to leave out. */
  drop?: (name: string) => boolean;
}

function childEnv(env: Record<string, string> = {}, drop: (name: string) => boolean = () => false): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, NODE_OPTIONS: __, ...inherited } = process.env;
  return { ...Object.fromEntries(Object.entries(inherited).filter(([k]) => !drop(k))), ...env };
}

/** Runs `command args` and waits until its stdout matches `ready`. */
export async function spawnChild(name: string, command: string, args: string[], options: SpawnOptions = {}): Promise<Child> {
  const ready = options.ready ?? /BENCH-READY (\S+)/;
  const child = spawn(command, args, {
    cwd: options.cwd ?? ROOT,
    env: childEnv(options.env, options.drop),
    stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let output = '';
  const keep = (chunk: Buffer) => {
    output += chunk.toString();
    if (output.length > 64 * 1024) output = output.slice(-32 * 1024);
  };
  child.stderr!.on('data', keep);

  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  child.on('message', (raw) => {
    const message = raw as { id?: number; result?: unknown; error?: string };
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id!);
    if (message.error !== undefined) waiter.reject(new Error(`${name}: ${message.error}`));
    else waiter.resolve(message.result);
  });
  child.once('exit', (code, signal) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${name} exited (${code ?? signal})`));
    pending.clear();
  });

  const timeoutMs = options.timeoutMs ?? 30_000;
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(() => reject(new Error(`${name} was not ready after ${timeoutMs} ms:\n${output}`)), timeoutMs);
    child.stdout!.on('data', (chunk: Buffer) => {
      keep(chunk);
      stdout += chunk.toString();
      const m = ready.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code ?? signal}) before it was ready:\n${output}`));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  }).catch((err) => {
    if (child.exitCode === null) child.kill('SIGKILL');
    throw err;
  });

  return {
    name,
    pid: child.pid!,
    process: child,
    ready: match,
    output: () => output,
    call: <T>(type: string, args: Record<string, unknown> = {}, callTimeoutMs = 600_000) =>
      new Promise<T>((resolve, reject) => {
        if (!child.connected) return reject(new Error(`${name} has no IPC channel`));
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${name}: no answer to ${type} in ${callTimeoutMs} ms`));
        }, callTimeoutMs);
        pending.set(id, {
          resolve: (v) => {
            clearTimeout(timer);
            resolve(v as T);
          },
          reject: (e) => {
            clearTimeout(timer);
            reject(e);
          },
        });
        child.send({ id, type, ...args });
      }),
    peakRssKb: () => peakRssKb(child.pid!),
    stop: async (graceMs = 5_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Runs one of our TypeScript child scripts under tsx, with an IPC channel. */
export function spawnScript(name: string, script: string, env: Record<string, string> = {}, timeoutMs?: number): Promise<Child> {
  return spawnChild(name, process.execPath, ['--import', 'tsx', fileURLToPath(new URL(script, import.meta.url))], { env, ipc: true, timeoutMs });
}

export function peakRssKb(pid: number): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export function currentRssKb(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

// ---- the child side ---------------------------------------------------------------------

type Handler = (args: Record<string, any>) => unknown;

/**
 * For a child script: answers the parent's calls with `handlers`, prints the readiness line,
 * and exits when the parent goes away (its IPC channel closes), so no child outlives the bench.
 */
export function serveParent(handlers: Record<string, Handler>, readyUrl: string): void {
  process.on('message', (raw) => {
    const { id, type, ...args } = raw as { id: number; type: string };
    const handler = handlers[type];
    Promise.resolve()
      .then(() => {
        if (!handler) throw new Error(`unknown call ${type}`);
        return handler(args);
      })
      .then(
        (result) => process.send?.({ id, result: result ?? null }),
        (err: unknown) => process.send?.({ id, error: String((err as Error)?.stack ?? err) }),
      );
  });
  process.on('disconnect', () => process.exit(0));
  process.once('SIGTERM', () => process.exit(0));
  process.stdout.write(`BENCH-READY ${readyUrl}\n`);
}

/** Whether this module is the script node was started with. */
export function isMain(moduleUrl: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(moduleUrl) === process.argv[1];
}
