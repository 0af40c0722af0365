// berth's command line, read in one place from what the commands declare: global flags, then a
// command (one word, or two: `image import`) with its own flags and arguments. A command that has a
// kubectl-style form runs that form when its first argument names a pod (`pod/NAME`). The help is
// made from the same declarations.
import { parseArgs } from 'node:util';
import { invalidArgument, toBerthError } from '../errors/errors.ts';
import { type Command, type Flags, GLOBAL_FLAGS, type GlobalValues, type Invocation } from './command.ts';

type ParseOptions = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>;

function parseOptions(flags: Flags): ParseOptions {
  return Object.fromEntries(
    Object.entries(flags).map(([name, f]) => [
      name,
      { type: f.type, ...(f.short !== undefined ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) },
    ]),
  );
}

/** A command's flags: its own, and the global ones under the names (long and short) its own leave free. */
export function commandFlags(command: Pick<Command, 'flags'>): Flags {
  const own = command.flags;
  const shorts = new Set(Object.values(own).map((f) => f.short));
  const flags: Flags = { ...own };
  for (const [name, spec] of Object.entries(GLOBAL_FLAGS)) {
    if (name in own) continue;
    const { short, ...long } = spec;
    flags[name] = shorts.has(short) ? long : spec;
  }
  return flags;
}

/** Where the first positional argument is, reading flags as `flags` declares them. */
function firstPositional(argv: string[], flags: Flags): { index: number; afterTerminator?: number } | undefined {
  const { tokens } = parseArgs({ args: argv, options: parseOptions(flags), allowPositionals: true, strict: false, tokens: true });
  let terminator: number | undefined;
  for (const t of tokens) {
    if (t.kind === 'option-terminator') terminator = t.index;
    if (t.kind === 'positional') return { index: t.index, afterTerminator: terminator };
  }
  return undefined;
}

interface Parsed {
  values: Record<string, unknown>;
  positionals: string[];
}

/** Strict: an unknown flag, or a value missing or given to a boolean, is a bad-flag error. */
function parseFlags(argv: string[], flags: Flags, endAtFirstArg = false): Parsed {
  let flagPart = argv;
  let rest: string[] = [];
  if (endAtFirstArg) {
    const at = firstPositional(argv, flags);
    if (at !== undefined) {
      flagPart = argv.slice(0, at.afterTerminator ?? at.index);
      rest = [argv[at.index]!, ...argv.slice(at.index + 1)];
      if (rest[1] === '--') rest.splice(1, 1);
    }
  }
  try {
    const { values, positionals } = parseArgs({ args: flagPart, options: parseOptions(flags), allowPositionals: true, strict: true });
    return { values, positionals: [...positionals, ...rest] };
  } catch (e) {
    throw invalidArgument('bad-flag', (e as Error).message);
  }
}

// ---- help ----

function flagLines(flags: Flags): string[] {
  const left = Object.entries(flags).map(
    ([name, f]) => `${f.short !== undefined ? `-${f.short}, ` : '    '}--${name}${f.type === 'string' ? ` ${f.value ?? 'VALUE'}` : ''}`,
  );
  const width = Math.max(0, ...left.map((l) => l.length));
  return Object.values(flags).map((f, i) => `  ${left[i]!.padEnd(width)}   ${f.help}${f.multiple ? ' (may be repeated)' : ''}`);
}

function synopsis(c: Command, prefix = ''): string {
  const flags = Object.keys(c.flags).length > 0 ? ' [flags]' : '';
  return `Usage: berth ${prefix}${c.name}${flags}${c.args ? ` ${c.args}` : ''}`;
}

export function commandHelp(c: Command): string {
  const lines = [synopsis(c), '', c.summary];
  if (Object.keys(c.flags).length > 0) lines.push('', 'Flags:', ...flagLines(c.flags));
  if (c.podForm !== undefined) {
    const p = c.podForm;
    lines.push('', synopsis(p), '', p.summary);
    if (Object.keys(p.flags).length > 0) lines.push('', 'Flags:', ...flagLines(p.flags));
  }
  lines.push('', 'Global flags (also after the command, where its own flags leave the name free):', ...flagLines(GLOBAL_FLAGS));
  return `${lines.join('\n')}\n`;
}

export function usage(commands: Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: berth [global flags] COMMAND [flags] [args]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}   ${c.summary}`),
    '',
    'Global flags:',
    ...flagLines(GLOBAL_FLAGS),
    '',
    'Run "berth COMMAND --help" for a command\'s flags.',
  ].join('\n');
}

// ---- dispatch ----

const POD_RESOURCE = /^(pods?|po)\//;

function findCommand(commands: Command[], words: string[]): { command: Command; used: number } | undefined {
  const two = words.length > 1 ? commands.find((c) => c.name === `${words[0]} ${words[1]}`) : undefined;
  if (two !== undefined) return { command: two, used: 2 };
  const one = commands.find((c) => c.name === words[0] || c.aliases?.includes(words[0]!));
  return one === undefined ? undefined : { command: one, used: 1 };
}

/** The kubectl-style form when the command has one and its first argument names a pod. */
function formFor(command: Command, argv: string[]): Command {
  const pod = command.podForm;
  if (pod === undefined) return command;
  const at = firstPositional(argv, { ...commandFlags(command), ...commandFlags(pod) });
  return at !== undefined && POD_RESOURCE.test(argv[at.index]!) ? pod : command;
}

/** What the command line asks for: a command to run, or text to print (help, a usage error) with an exit status. */
export type CommandLine =
  | { kind: 'run'; command: Command; invocation: Invocation<Flags> }
  | { kind: 'print'; stdout?: string; stderr?: string; status: number };

/** Reads `argv` (the process's arguments after the script) against the declared commands. */
export function parseCommandLine(argv: string[], commands: Command[]): CommandLine {
  let globals: GlobalValues;
  let at: number;
  try {
    const start = firstPositional(argv, GLOBAL_FLAGS);
    at = start?.index ?? argv.length;
    globals = { ...parseFlags(argv.slice(0, start?.afterTerminator ?? at), GLOBAL_FLAGS).values } as GlobalValues;
  } catch (e) {
    return { kind: 'print', stderr: `berth: ${toBerthError(e).message}\n`, status: 1 };
  }
  const words = argv.slice(at);
  if (words.length === 0 || words[0] === 'help') {
    const topic = words.length > 1 ? findCommand(commands, words.slice(1)) : undefined;
    const status = words.length === 0 && !globals.help ? 1 : 0;
    return { kind: 'print', stdout: topic !== undefined ? commandHelp(topic.command) : `${usage(commands)}\n`, status };
  }
  const found = findCommand(commands, words);
  if (found === undefined) return { kind: 'print', stderr: `berth: unknown command "${words[0]}"\n\n${usage(commands)}\n`, status: 1 };
  const rest = words.slice(found.used);
  const command = formFor(found.command, rest);
  let parsed: Parsed;
  try {
    parsed = parseFlags(rest, commandFlags(command), command.flagsEndAtFirstArg);
  } catch (e) {
    return { kind: 'print', stderr: `berth ${command.name}: ${toBerthError(e).message}\n`, status: 1 };
  }
  const flags: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(parsed.values)) {
    if (name in command.flags) flags[name] = value;
    else (globals as Record<string, unknown>)[name] = value;
  }
  if (globals.help) return { kind: 'print', stdout: commandHelp(found.command), status: 0 };
  return { kind: 'run', command, invocation: { flags: flags as Invocation<Flags>['flags'], args: parsed.positionals, globals } };
}

/** The error's message; grpc-js ends a failed connection's with a "Resolution note: " that says nothing. */
export function errorMessage(e: unknown): string {
  return toBerthError(e).message.replace(/ Resolution note: $/, '');
}

/** Parses the command line and runs the command; resolves with the exit status. */
export async function runCommandLine(argv: string[], commands: Command[]): Promise<number> {
  const line = parseCommandLine(argv, commands);
  if (line.kind === 'print') {
    if (line.stdout !== undefined) process.stdout.write(line.stdout);
    if (line.stderr !== undefined) process.stderr.write(line.stderr);
    return line.status;
  }
  const { command, invocation } = line;
  try {
    return (await command.run(invocation)) ?? 0;
  } catch (e) {
    process.stderr.write(`berth ${command.name}: ${errorMessage(e)}\n`);
    if (invocation.globals.debug) process.stderr.write(`${(e as Error).stack ?? ''}\n`);
    return 1;
  }
}
