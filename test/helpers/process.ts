import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

// The `discue` command as installed (package.json "bin"), which runs src/main.ts.
const DISCUE = fileURLToPath(new URL('../../bin/discue.js', import.meta.url));

/** The environment of a child discue: ours, without the test runner's marker (which would
 * make the child report to the runner instead of printing). */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
  return { ...inherited, ...env };
}

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process printed to stdout so far. */
  output: () => string;
  /** Everything the process printed to stderr so far. */
  errors: () => string;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const SERVING = /serving the API at (http:\/\/\S+)/;
export const WORKING = /discue worker is delivering messages/;

/**
 * Runs `discue <args>` as its own process and waits until it prints `ready` (for `serve`: the
 * URL it serves at, which becomes `url`).
 */
export async function startProcess(env: Record<string, string>, args = ['serve'], ready: RegExp = SERVING): Promise<ServerProcess> {
  const child = spawn(process.execPath, [DISCUE, ...args], {
    env: childEnv({ HOST: '127.0.0.1', PORT: '0', DISCUE_LOG_LEVEL: 'warn', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exit = once(child, 'exit');
    child.kill(signal);
    const [code] = await exit;
    return code as number | null;
  };
  try {
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout!.on('data', (chunk) => {
        stdout += chunk;
        const match = ready.exec(stdout);
        if (match) resolve(match[1] ?? '');
      });
      child.once('exit', (code) => reject(new Error(`discue ${args.join(' ')} exited with ${code}: ${stderr}`)));
      child.once('error', reject);
    });
    return { child, url, output: () => stdout, errors: () => stderr, stop };
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
}

/** Runs `discue <args>` to completion. */
export async function runCommand(env: Record<string, string>, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [DISCUE, ...args], { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const [code] = await once(child, 'exit');
  return { code: code as number | null, stdout, stderr };
}
