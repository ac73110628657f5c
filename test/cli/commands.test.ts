import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCommand, startProcess } from '../helpers/process.js';
import { call } from '../helpers/server.js';

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
  for (const command of ['serve', 'worker', 'config', 'migrate', 'clients create', 'keys create']) {
    it(`${command} --help shows the command's usage and starts nothing`, async () => {
      for (const flag of ['--help', '-h']) {
        const result = await runCommand({ ...clean(), DISCUE_LOG_LEVEL: 'not-checked-by-help' }, [...command.split(' '), flag]);
        assert.equal(result.code, 0, result.stderr);
        assert.match(result.stdout, new RegExp(`^Usage: discue ${command}\\b`));
        assert.match(result.stdout, /-h, --help/);
      }
    });
  }

  it('help lists every command, and help <command> shows its usage', async () => {
    const help = await runCommand({}, ['help']);
    assert.equal(help.code, 0);
    for (const command of ['serve', 'worker', 'config', 'migrate', 'clients create <name>', 'keys create --client <id>']) {
      assert.match(help.stdout, new RegExp(`^  ${command} `, 'm'));
    }
    const serve = await runCommand({}, ['help', 'serve']);
    assert.match(serve.stdout, /--no-worker/);
    const keys = await runCommand({}, ['help', 'keys', 'create']);
    assert.match(keys.stdout, /^Usage: discue keys create --client <id> \[--name <name>\]/);
    const group = await runCommand({}, ['clients', '--help']);
    assert.equal(group.code, 0);
    assert.match(group.stdout, /^Usage: discue clients <command>/);
    assert.match(group.stdout, /^  create <name> /m);
  });

  for (const [args, problem] of [
    [['serve', '--no-wroker'], 'unknown option "--no-wroker" for discue serve'],
    [['worker', '--no-worker'], 'unknown option "--no-worker" for discue worker'],
    [['config', '--json'], 'unknown option "--json" for discue config'],
    [['config', 'extra'], 'unexpected argument "extra" for discue config'],
    [['migrate', '--dry-run'], 'unknown option "--dry-run" for discue migrate'],
    [['clients', 'create'], 'missing <name> for discue clients create'],
    [['clients', 'create', 'a', 'b'], 'unexpected argument "b" for discue clients create'],
    [['clients', 'create', 'a\tb'], 'the name of an api client must not contain control characters'],
    [['keys', 'create'], 'missing option --client <id> for discue keys create'],
    [['keys', 'create', '--client'], 'option --client needs a value: --client <id>'],
    [['keys', 'create', '--client', 'x', '--scopes', 'all'], 'unknown option "--scopes" for discue keys create'],
    [['clients'], 'missing the command for discue clients'],
    [['clients', 'list'], 'unknown command "clients list"'],
  ] as const) {
    it(`${args.join(' ')} exits 2 saying what is wrong, with the command's usage`, async () => {
      const result = await runCommand({}, [...args]);
      assert.equal(result.code, 2);
      assert.equal(result.stdout, '');
      const usage = args[0] === 'clients' || args[0] === 'keys' ? `Usage: discue ${args[0]} ` : `Usage: discue ${args[0]}`;
      assert.ok(result.stderr.startsWith(`discue: ${problem}\n\n${usage}`), result.stderr);
    });
  }
});

describe('discue migrate, clients create, keys create', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'discue-cli-'));
  const env = () => ({ ...clean(), DISCUE_DATA_DIR: dataDir });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  it('migrate applies the migrations once, then finds the store up to date', async () => {
    const first = await runCommand(env(), ['migrate']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^migrated the store to schema version (\d+) \(applied 1, [\d, ]+\)\n$/);
    const version = /version (\d+)/.exec(first.stdout)![1];
    const second = await runCommand(env(), ['migrate']);
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, `the store is up to date (schema version ${version})\n`);
  });

  it('creates a client and keys that a running server accepts, with the API\'s scopes and events', async (t) => {
    const created = await runCommand(env(), ['clients', 'create', 'cli.example.com']);
    assert.equal(created.code, 0, created.stderr);
    const client = Object.fromEntries(created.stdout.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
    assert.deepEqual(Object.keys(client), ['api_client_id', 'api_key_id', 'api_key']);
    assert.match(created.stderr, /shown this once/);

    const duplicate = await runCommand(env(), ['clients', 'create', 'cli.example.com']);
    assert.equal(duplicate.code, 1);
    assert.equal(duplicate.stdout, '');
    assert.equal(duplicate.stderr, 'discue: an api client named "cli.example.com" already exists\n');

    const keyed = await runCommand(env(), ['keys', 'create', '--client', client.api_client_id!, '--name=publisher']);
    assert.equal(keyed.code, 0, keyed.stderr);
    const key = Object.fromEntries(keyed.stdout.trim().split('\n').map((l) => l.split('=', 2) as [string, string]));
    assert.deepEqual(Object.keys(key), ['api_key_id', 'api_key']);

    const unknown = await runCommand(env(), ['keys', 'create', '--client', 'no-such-client']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^discue: no api client has the id "no-such-client"/);

    const server = await startProcess({ ...env(), DISCUE_ROOT_API_KEY: 'operator-root-key-0123456789' });
    t.after(() => server.stop());
    // The first key manages its organization (protected scopes); the second has the defaults.
    const keys = await call(server.url, 'GET', '/v1/api_keys', { key: client.api_key! });
    assert.equal(keys.status, 200, keys.text);
    const byId = new Map<string, { name: string; scopes: { resource: string }[] }>(keys.body.api_keys.map((k: { id: string }) => [k.id, k]));
    assert.ok(byId.get(client.api_key_id!)!.scopes.some((s) => s.resource === 'api_clients'));
    assert.equal(byId.get(key.api_key_id!)!.name, 'publisher');
    assert.ok(!byId.get(key.api_key_id!)!.scopes.some((s) => ['api_clients', 'api_keys', 'subscriptions'].includes(s.resource)));
    assert.equal((await call(server.url, 'POST', '/v1/queues', { key: key.api_key!, body: { name: 'q' } })).status, 200);
    assert.equal((await call(server.url, 'GET', '/v1/api_keys', { key: key.api_key! })).status, 403);
    const events = await call(server.url, 'GET', '/v1/events?events=api_keys', { key: client.api_key! });
    assert.deepEqual(
      events.body.events.map((e: { type: string; api_key: { id: string } }) => [e.type, e.api_key.id]),
      [['api_key_added', client.api_key_id], ['api_key_added', key.api_key_id]],
    );
  });
});
