import { QuotaExceededError } from '../store/errors.js';
import { createApiKey } from '../tenancy.js';
import { CommandError, nameProblem, UsageError, withStore, type Command } from './command.js';

const DEFAULT_NAME = 'cli key';

async function createKey(clientId: string, name: string): Promise<void> {
  const problem = nameProblem(name);
  if (problem) throw new UsageError(`the name of an api key ${problem}`);
  const { client, key, secret } = await withStore(async (store, config) => {
    const client = await store.getClient(clientId);
    if (!client) throw new CommandError(`no api client has the id "${clientId}" (the id is api_client_id, as printed by discue clients create)`);
    const created = await createApiKey(store, client, { name }, config.quotas, Date.now()).catch((err: unknown) => {
      if (err instanceof QuotaExceededError) throw new CommandError(`the api client "${client.name}" has reached its quota of api keys (${err.limit})`);
      throw err;
    });
    return { client, ...created };
  });
  process.stdout.write(`api_key_id=${key.id}\napi_key=${secret}\n`);
  const suspended = client.status === 'suspended' ? ' The client is suspended: its keys answer 423 until it is resumed.' : '';
  process.stderr.write(`Created the api key "${name}" of the api client "${client.name}", shown this once: only its hash is kept.${suspended}\n`);
}

export const keysCreateCommand: Command = {
  name: 'keys create',
  synopsis: 'keys create --client <id>',
  summary: 'create an api key of an api client; prints it once',
  usage: `Usage: discue keys create --client <id> [--name <name>]

Creates an api key of an existing api client directly in the store, with the scopes
POST /api_keys gives a key without \`scopes\`: write on every resource but the protected
ones (api_clients, api_keys, subscriptions). Prints, once, as VARIABLE=value lines:

  api_key_id=<id>
  api_key=<the key's secret; only its hash is kept>

An unknown client, or one at its quota of api keys, exits 1.

Options:
  --client <id>   the api client's id (required)
  --name <name>   the key's name (default "${DEFAULT_NAME}")
  -h, --help      show this text`,
  options: { '--client': { value: 'id', required: true }, '--name': { value: 'name' } },
  run: (input) => createKey(input.values.get('--client')!, input.values.get('--name') ?? DEFAULT_NAME),
};
