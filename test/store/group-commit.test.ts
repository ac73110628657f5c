import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { GroupCommit } from '../../src/store/sqlite/group-commit.js';

describe('GroupCommit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'discue-gc-'));
  let db: Database.Database;
  let commits: GroupCommit;
  const synchronous = () => db.pragma('synchronous', { simple: true });

  before(() => {
    db = new Database(join(dir, 'gc.sqlite3'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.exec('CREATE TABLE t (v TEXT PRIMARY KEY)');
    commits = new GroupCommit(db);
  });
  after(() => {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const insert = (v: string) => () => db.prepare('INSERT INTO t (v) VALUES (?)').run(v).changes;

  it('commits writes of one turn together; a failing one fails alone', async () => {
    const results = await Promise.allSettled([commits.run(insert('a')), commits.run(insert('a')), commits.run(insert('b'))]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(db.prepare('SELECT v FROM t ORDER BY v').pluck().all(), ['a', 'b']);
  });

  it('fsyncs (FULL) a batch with any durable write, and not one of only relaxed writes', async () => {
    await commits.run(insert('c'), false);
    assert.equal(synchronous(), 1, 'NORMAL');
    await Promise.all([commits.run(insert('d'), false), commits.run(insert('e'))]);
    assert.equal(synchronous(), 2, 'FULL');
  });
});
