/**
 * What the figures depend on besides the code: CPUs, memory, Node, the load other processes put
 * on the machine (the figures are only comparable on an otherwise idle machine), and how many
 * fsync'd commits per second the disk allows (discue's store commits each publish with
 * synchronous=FULL, so this bounds its publish rate).
 */
import Database from 'better-sqlite3';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';

export interface Machine {
  cpus: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  platform: string;
  release: string;
  /** 1-minute load average when the bench started */
  loadAverage: number;
  /** single-row SQLite commits per second in WAL mode, synchronous=FULL and NORMAL */
  sqliteCommitsPerSecond: { full: number; normal: number };
}

function commitsPerSecond(synchronous: 'FULL' | 'NORMAL', durationMs: number): number {
  const dir = mkdtempSync(join(tmpdir(), 'discue-bench-fsync-'));
  try {
    const db = new Database(join(dir, 'probe.db'));
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous}`);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)');
    const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
    const commit = db.transaction((v: string) => insert.run(v));
    const value = 'x'.repeat(256);
    const start = performance.now();
    let n = 0;
    while (performance.now() - start < durationMs) {
      commit(value);
      n++;
    }
    const rate = Math.round((n / (performance.now() - start)) * 1000);
    db.close();
    return rate;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The code measured: the commit, and whether src/ differs from it (figures then belong to the work tree). */
export function codeInfo(root: string): { commit: string | null; srcChanged: boolean | null } {
  const git = (...args: string[]) => spawnSync('git', args, { cwd: root, encoding: 'utf8' });
  const head = git('rev-parse', 'HEAD');
  const status = git('status', '--porcelain', '--', 'src');
  return { commit: head.status === 0 ? head.stdout.trim() : null, srcChanged: status.status === 0 ? status.stdout.trim() !== '' : null };
}

export function machineInfo(): Machine {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: process.platform,
    release: release(),
    loadAverage: Math.round(loadavg()[0]! * 100) / 100,
    sqliteCommitsPerSecond: { full: commitsPerSecond('FULL', 300), normal: commitsPerSecond('NORMAL', 100) },
  };
}
