import { clientsCreateCommand } from './cli/clients.js';
import { CommandError, isHelp, parseInput, UsageError, type Command } from './cli/command.js';
import { configCommand } from './cli/config.js';
import { keysCreateCommand } from './cli/keys.js';
import { migrateCommand } from './cli/migrate.js';
import { serveCommand } from './cli/serve.js';
import { workerCommand } from './cli/worker.js';
import { ConfigError } from './config.js';

// The command line: `discue <command> [options]`, one file per command in ./cli.
const COMMANDS: readonly Command[] = [serveCommand, workerCommand, configCommand, migrateCommand, clientsCreateCommand, keysCreateCommand];

const HELP = { synopsis: 'help [<command>]', summary: "show this text, or a command's usage" };

function commandList(commands: readonly { synopsis: string; summary: string }[], drop = ''): string {
  const width = Math.max(...commands.map((c) => c.synopsis.length - drop.length));
  return commands.map((c) => `  ${c.synopsis.slice(drop.length).padEnd(width)}   ${c.summary}`).join('\n');
}

const USAGE = `Usage: discue <command> [options]

Commands:
${commandList([...COMMANDS, HELP])}

Run \`discue <command> --help\` for a command's options. Configuration is read from
environment variables; see the README.`;

/** The usage of a group of commands (`discue clients`): its subcommands. */
function groupUsage(group: string): string {
  const members = COMMANDS.filter((c) => c.name.startsWith(`${group} `));
  return `Usage: discue ${group} <command> [options]

Commands:
${commandList(members, `${group} `)}

Run \`discue ${group} <command> --help\` for a command's options.`;
}

/** The command (or group of commands) the first words of the command line name, and how many words that took. */
function lookup(words: readonly string[]): { command?: Command; group?: string; used: number } {
  const [first, second] = words;
  const command = COMMANDS.find((c) => c.name === first);
  if (command) return { command, used: 1 };
  if (!COMMANDS.some((c) => c.name.startsWith(`${first} `))) return { used: 0 };
  const sub = COMMANDS.find((c) => c.name === `${first} ${second}`);
  return sub ? { command: sub, used: 2 } : { group: first, used: 1 };
}

/** Says what is wrong with the command line, shows the usage, and exits 2. */
function usageError(problem: string, usage: string): never {
  process.stderr.write(`discue: ${problem}\n\n${usage}\n`);
  process.exit(2);
}

async function main(argv: readonly string[]): Promise<void> {
  const [first = 'help'] = argv;
  if (first === 'help' || isHelp(first)) {
    const topic = lookup(argv.slice(1));
    process.stdout.write(`${topic.command?.usage ?? (topic.group ? groupUsage(topic.group) : USAGE)}\n`);
    return;
  }
  const { command, group, used } = lookup(argv);
  const rest = argv.slice(used);
  if (group !== undefined) {
    const [sub] = rest;
    if (sub !== undefined && isHelp(sub)) return void process.stdout.write(`${groupUsage(group)}\n`);
    if (sub === undefined) return usageError(`missing the command for discue ${group}`, groupUsage(group));
    return usageError(`unknown command "${group} ${sub}"`, groupUsage(group));
  }
  if (!command) return usageError(`unknown command "${first}"`, USAGE);
  if (rest.some(isHelp)) return void process.stdout.write(`${command.usage}\n`);
  try {
    await command.run(parseInput(command, rest));
  } catch (err) {
    if (err instanceof UsageError) return usageError(err.message, command.usage);
    throw err;
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof CommandError) {
    process.stderr.write(`discue: ${err.message}\n`);
  } else {
    process.stderr.write(`discue: ${(err as Error).stack ?? String(err)}\n`);
  }
  process.exit(1);
});
