import { loadConfig, type Config } from '../config.js';
import { nameSchema } from '../http/schemas.js';
import { openStore } from '../store/open.js';
import type { Store } from '../store/types.js';

// What every `discue <command>` shares: how it declares its arguments, how they are read, and
// the two ways it fails (a wrong command line exits 2 with the usage, a refused action exits 1).

export interface OptionSpec {
  /** The placeholder of the option's value (`id` for `--client <id>`); none for a switch. */
  value?: string;
  required?: boolean;
}

export interface Input {
  /** Switches given (`--no-worker`). */
  flags: ReadonlySet<string>;
  /** Options with their values (`--client` → id). */
  values: ReadonlyMap<string, string>;
  /** Positional arguments, as many as the command names. */
  args: readonly string[];
}

export interface Command {
  /** The words that run it: `serve`, `clients create`. */
  name: string;
  /** Its line in `discue help`: the words and required arguments. */
  synopsis: string;
  summary: string;
  usage: string;
  /** Options besides `--help`. */
  options?: Readonly<Record<string, OptionSpec>>;
  /** Names of its positional arguments, all required. */
  args?: readonly string[];
  run(input: Input): Promise<void>;
}

/** The command line is wrong: exit 2, showing the command's usage. */
export class UsageError extends Error {}

/** The command cannot do what was asked: exit 1 with the message. */
export class CommandError extends Error {}

export const HELP_FLAG = '  -h, --help    show this text';

export const isHelp = (arg: string) => arg === '--help' || arg === '-h';

/** Reads a command's arguments: `--option value`, `--option=value`, switches, `--` before positionals that start with `-`. */
export function parseInput(command: Command, argv: readonly string[]): Input {
  const specs = command.options ?? {};
  const flags = new Set<string>();
  const values = new Map<string, string>();
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      args.push(arg);
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (!spec) throw new UsageError(`unknown option "${name}" for discue ${command.name}`);
    if (spec.value === undefined) {
      if (eq > 0) throw new UsageError(`option ${name} takes no value`);
      flags.add(name);
      continue;
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '' || (eq < 0 && value.startsWith('--'))) {
      throw new UsageError(`option ${name} needs a value: ${name} <${spec.value}>`);
    }
    values.set(name, value);
  }
  const wanted = command.args ?? [];
  if (args.length > wanted.length) throw new UsageError(`unexpected argument "${args[wanted.length]}" for discue ${command.name}`);
  if (args.length < wanted.length) throw new UsageError(`missing <${wanted[args.length]}> for discue ${command.name}`);
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.required && !values.has(name)) throw new UsageError(`missing option ${name} <${spec.value}> for discue ${command.name}`);
  }
  return { flags, values, args };
}

/** What is wrong with a client or key name, by the rule the API applies (`nameSchema`). */
export function nameProblem(name: string): string | undefined {
  const length = [...name].length;
  if (length < nameSchema.minLength || length > nameSchema.maxLength) return `must be ${nameSchema.minLength} to ${nameSchema.maxLength} characters long`;
  if (!new RegExp(nameSchema.pattern, 'u').test(name)) return 'must not contain control characters';
  return undefined;
}

/** Runs `work` on the store the configuration names (opening it applies its migrations), then closes it. */
export async function withStore<T>(work: (store: Store, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const store = await openStore(config);
  try {
    return await work(store, config);
  } finally {
    await store.close();
  }
}
