import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { runCommand } from '../helpers/process.js';

// Only what a test sets: the variables of the machine running the tests must not leak in.
const clean = () => Object.fromEntries(Object.keys(process.env).filter((k) => k === 'PORT' || k === 'HOST' || k.startsWith('DISCUE_')).map((k) => [k, '']));

describe('discue config', () => {
  it('prints every setting as VARIABLE=value, secrets masked and defaults marked', async () => {
    const result = await runCommand(
      {
        ...clean(),
        PORT: '8080',
        DISCUE_ROOT_API_KEY: 'root-secret-0123456789',
        DISCUE_METRICS_TOKEN: 'metrics-secret-0123456789',
        DISCUE_DATABASE_URL: 'postgres://discue:db-secret@db.internal:5432/discue?sslmode=require',
        DISCUE_RETRY_SCHEDULE: '1s,90s',
        DISCUE_MAX_DATA_SIZE: '64KiB',
      },
      ['config'],
    );
    assert.equal(result.code, 0, result.stderr);
    const lines = result.stdout.trim().split('\n');
    const value = (name: string) => lines.find((l) => l.startsWith(`${name}=`))?.replace(/\s+# default$/, '').slice(name.length + 1);
    assert.equal(value('PORT'), '8080');
    assert.equal(value('DISCUE_ROOT_API_KEY'), '********');
    assert.equal(value('DISCUE_METRICS_TOKEN'), '********');
    assert.equal(value('DISCUE_DATABASE_URL'), 'postgres://discue:********@db.internal:5432/discue?sslmode=require');
    assert.equal(value('DISCUE_RETRY_SCHEDULE'), '1s,90s');
    assert.equal(value('DISCUE_MAX_DATA_SIZE'), '64KiB');
    assert.equal(value('DISCUE_MESSAGE_RETENTION'), '7d');
    assert.match(lines.find((l) => l.startsWith('DISCUE_MESSAGE_RETENTION='))!, /# default$/);
    assert.doesNotMatch(lines.find((l) => l.startsWith('PORT='))!, /# default/);
    for (const secret of ['root-secret', 'metrics-secret', 'db-secret']) assert.doesNotMatch(result.stdout, new RegExp(secret));
  });

  it('lists exactly the variables the README documents', async () => {
    const result = await runCommand(clean(), ['config']);
    const printed = result.stdout.trim().split('\n').map((l) => l.split('=')[0]);
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const table = readme.slice(readme.indexOf('## Configuration'));
    const documented = [...table.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual([...printed].sort(), [...new Set(documented)].sort());
  });

  it('exits 1 naming a bad variable', async () => {
    const result = await runCommand({ ...clean(), DISCUE_METRICS_TOKEN: 'short' }, ['config']);
    assert.equal(result.code, 1);
    assert.match(result.stderr.trim(), /^discue: DISCUE_METRICS_TOKEN=short is invalid: expected at least 16 characters$/);
  });
});

describe('discue command line', () => {
  for (const command of ['serve', 'worker', 'config']) {
    it(`${command} --help shows the command's usage and starts nothing`, async () => {
      for (const flag of ['--help', '-h']) {
        const result = await runCommand({ ...clean(), DISCUE_LOG_LEVEL: 'not-checked-by-help' }, [command, flag]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`^Usage: discue ${command}\\b`));
        assert.match(result.stdout, /-h, --help/);
      }
    });
  }

  it('help lists every command, and help <command> shows its usage', async () => {
    const help = await runCommand({}, ['help']);
    assert.equal(help.code, 0);
    for (const command of ['serve', 'worker', 'config']) assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));
    const serve = await runCommand({}, ['help', 'serve']);
    assert.match(serve.stdout, /--no-worker/);
  });

  for (const [args, problem] of [
    [['serve', '--no-wroker'], 'unknown option "--no-wroker" for discue serve'],
    [['worker', '--no-worker'], 'unknown option "--no-worker" for discue worker'],
    [['config', '--json'], 'unknown option "--json" for discue config'],
    [['config', 'extra'], 'unexpected argument "extra" for discue config'],
  ] as const) {
    it(`${args.join(' ')} exits 2 saying what is wrong, with the command's usage`, async () => {
      const result = await runCommand({}, [...args]);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      assert.ok(result.stderr.startsWith(`discue: ${problem}\n\nUsage: discue ${args[0]}`), result.stderr);
    });
  }
});
