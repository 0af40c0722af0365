// berth: one binary with subcommands — the daemon, and crictl-style commands against any CRI endpoint.
import { toBerthError } from '../errors/errors.ts';
import type { Command } from './command.ts';
import { containerCommands } from './container-commands.ts';
import { daemonCommand } from './daemon.ts';
import { imageCommands } from './image-commands.ts';
import { infoCommands } from './info-commands.ts';
import { kubeCommands } from './kube-commands.ts';
import { nodeCommand } from './node.ts';
import { operatorCommands } from './operator-commands.ts';
import { podCommands } from './pod-commands.ts';
import { streamCommands } from './stream-commands.ts';

const commands: Command[] = [
  daemonCommand,
  nodeCommand,
  ...infoCommands,
  ...imageCommands,
  ...podCommands,
  ...containerCommands,
  ...kubeCommands,
  ...streamCommands,
  ...operatorCommands,
];

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'Usage: berth [global flags] COMMAND [flags] [args]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}   ${c.summary}`),
    '',
    'Global flags:',
    '  -r, --runtime-endpoint URL   CRI endpoint (default $CONTAINER_RUNTIME_ENDPOINT or unix:///run/berth/berth.sock)',
    '  -i, --image-endpoint URL     image service endpoint (default: the runtime endpoint)',
    '  -t, --timeout DURATION       per-call timeout (default 2m)',
    '  -D, --debug                  print errors with their cause',
    '',
    'Run "berth COMMAND --help" for a command\'s flags.',
  ].join('\n');
}

/** Global flags may come before the command, as crictl writes them; they are handed on to it. */
function splitCommand(argv: string[]): { name?: string; args: string[] } {
  const takesValue = new Set(['-r', '--runtime-endpoint', '-i', '--image-endpoint', '-t', '--timeout']);
  const leading: string[] = [];
  let i = 0;
  while (i < argv.length && argv[i]!.startsWith('-')) {
    const flag = argv[i]!;
    leading.push(flag);
    if (takesValue.has(flag) && i + 1 < argv.length) leading.push(argv[++i]!);
    i++;
  }
  return { name: argv[i], args: [...argv.slice(i + 1), ...leading] };
}

async function main(argv: string[]): Promise<number> {
  const { name, args } = splitCommand(argv);
  if (name === undefined || name === 'help') {
    process.stdout.write(usage() + '\n');
    return name === undefined && !argv.some((a) => a === '-h' || a === '--help') ? 1 : 0;
  }
  const command = commands.find((c) => c.name === name || c.aliases?.includes(name));
  if (!command) {
    process.stderr.write(`berth: unknown command "${name}"\n\n${usage()}\n`);
    return 1;
  }
  if (args.includes('-h') || args.includes('--help')) {
    process.stdout.write(`Usage: berth ${command.usage}\n\n${command.summary}\n`);
    return 0;
  }
  try {
    return (await command.run(args)) ?? 0;
  } catch (e) {
    const err = toBerthError(e);
    process.stderr.write(`berth ${command.name}: ${err.message}\n`);
    if (args.includes('-D') || args.includes('--debug')) process.stderr.write(`${(e as Error).stack ?? ''}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
