// Attach to a Docker container's stdio as a StreamProcess: container attach on a hijacked
// connection, only the live stream (no logs), stdin only when the container keeps one open. It
// ends when the container ends (the engine closes the connection) or the client goes away.
import type { TerminalSize } from '../streaming/remote-command.ts';
import type { StreamProcess } from '../streaming/run-remote-command.ts';
import { runningContainer } from './docker-container-lookup.ts';
import { type DockerEngine, dockerCall } from './docker-engine.ts';
import { type HijackedSocket, hijackedClosed, hijackedInput, hijackedOutput } from './docker-hijacked-stream.ts';

export interface DockerAttachOptions {
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
}

export async function startDockerAttach(engine: DockerEngine, containerId: string, options: DockerAttachOptions): Promise<StreamProcess> {
  const info = await runningContainer(engine, containerId);
  const container = engine.docker.getContainer(info.Id);
  const tty = info.Config.Tty;
  // The engine keeps no stdin for a container created without it.
  const stdin = options.stdin && info.Config.OpenStdin;
  const socket = (await dockerCall(`attach to container ${info.Id}`, () =>
    container.attach({ hijack: true, stream: true, logs: false, stdin, stdout: options.stdout, stderr: options.stderr && !tty }),
  )) as HijackedSocket;
  socket.on('error', () => {});
  const output = hijackedOutput(socket, tty);
  const done = hijackedClosed(socket).then(() => undefined);
  return {
    stdin: stdin ? hijackedInput(socket) : undefined,
    stdout: output.stdout,
    stderr: output.stderr,
    resize: (size: TerminalSize) => {
      if (tty) container.resize({ h: size.height, w: size.width }).catch(() => {});
    },
    done,
    kill: async () => {
      socket.destroy();
      await done;
    },
  };
}
