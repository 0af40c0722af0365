// berth: one binary with subcommands — the daemon, the node agent, crictl-style commands against any
// CRI endpoint and kubectl-style commands through a node's API. A new command is declared in one of
// the command files and listed here; src/cli/command-line.ts parses, dispatches and writes the help.
import { runCommandLine } from './command-line.ts';
import { containerCommands } from './container-commands.ts';
import { daemonCommand } from './daemon.ts';
import { dockershimCommand } from './dockershim.ts';
import { imageCommands } from './image-commands.ts';
import { infoCommands } from './info-commands.ts';
import { kubeCommands } from './kube-commands.ts';
import { nodeCommand } from './node.ts';
import { operatorCommands } from './operator-commands.ts';
import { podCommands } from './pod-commands.ts';
import { streamCommands } from './stream-commands.ts';

const commands = [
  daemonCommand,
  dockershimCommand,
  nodeCommand,
  ...infoCommands,
  ...imageCommands,
  ...podCommands,
  ...containerCommands,
  ...kubeCommands,
  ...streamCommands,
  ...operatorCommands,
];

process.exitCode = await runCommandLine(process.argv.slice(2), commands);
