import { describeConfig, loadConfig } from '../config.js';
import { HELP_FLAG, type Command } from './command.js';

export const configCommand: Command = {
  name: 'config',
  synopsis: 'config',
  summary: 'print the effective configuration, secrets masked',
  usage: `Usage: discue config

Prints the configuration \`discue serve\` would use, read from the environment, as
VARIABLE=value lines: secrets masked, defaults marked. A bad value exits 1 naming it.

Options:
${HELP_FLAG}`,
  run: async () => void process.stdout.write(`${describeConfig(loadConfig())}\n`),
};
