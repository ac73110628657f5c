import { DuplicateError } from '../store/errors.js';
import { createApiClient } from '../tenancy.js';
import { CommandError, HELP_FLAG, nameProblem, UsageError, withStore, type Command } from './command.js';

async function createClient(name: string): Promise<void> {
  const problem = nameProblem(name);
  if (problem) throw new UsageError(`the name of an api client ${problem}`);
  const { client, key, secret } = await withStore((store) =>
    createApiClient(store, { name }, Date.now()).catch((err: unknown) => {
      if (err instanceof DuplicateError) throw new CommandError(`an api client named "${name}" already exists`);
      throw err;
    }),
  );
  process.stdout.write(`api_client_id=${client.id}\napi_key_id=${key.id}\napi_key=${secret}\n`);
  process.stderr.write(`Created the api client "${name}". Its api key holds every scope and is shown this once: only its hash is kept.\n`);
}

export const clientsCreateCommand: Command = {
  name: 'clients create',
  synopsis: 'clients create <name>',
  summary: 'create an api client; prints its first api key once',
  usage: `Usage: discue clients create <name>

Creates an api client (an organization) directly in the store, as POST /api_clients does
with the root key: its first api key holds every scope, so the organization can manage
itself. Prints, once, as VARIABLE=value lines:

  api_client_id=<id>
  api_key_id=<id of the key>
  api_key=<the key's secret; only its hash is kept>

A name that is taken exits 1. Put \`--\` before a name that starts with "-".

Options:
${HELP_FLAG}`,
  args: ['name'],
  run: (input) => createClient(input.args[0]!),
};
