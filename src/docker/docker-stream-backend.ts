// The runtime side of streaming sessions for the dockershim: exec, attach and port-forward on
// Docker containers and sandboxes, through the engine's API (hijacked exec and attach
// connections) and, for port-forward, a relay in the sandbox's network namespace.

import type { PortDialer } from '../streaming/daemon/port-dialer.ts';
import type { StreamBackend } from '../streaming/daemon/stream-backend.ts';
import type { AttachStreamRequest, ExecStreamRequest } from '../streaming/daemon/stream-requests.ts';
import type { TerminalSize } from '../streaming/remote-command.ts';
import type { StreamProcess } from '../streaming/run-remote-command.ts';
import { startDockerAttach } from './docker-attach-process.ts';
import type { DockerEngine } from './docker-engine.ts';
import { startDockerExec } from './docker-exec-process.ts';
import { DockerPortDialer } from './docker-port-dialer.ts';

export interface DockerStreamBackendOptions {
  engine: DockerEngine;
  /** The Node binary the port-forward relay runs on; default the one running the dockershim. */
  nodePath?: string;
}

export class DockerStreamBackend implements StreamBackend {
  readonly #o: DockerStreamBackendOptions;

  constructor(options: DockerStreamBackendOptions) {
    this.#o = options;
  }

  startExec(request: ExecStreamRequest, size?: TerminalSize): Promise<StreamProcess> {
    return startDockerExec(this.#o.engine, request.containerId, {
      cmd: request.cmd,
      stdin: request.stdin,
      stdout: request.stdout,
      stderr: request.stderr,
      tty: request.tty,
      size,
    });
  }

  startAttach(request: AttachStreamRequest): Promise<StreamProcess> {
    return startDockerAttach(this.#o.engine, request.containerId, {
      stdin: request.stdin,
      stdout: request.stdout,
      stderr: request.stderr,
    });
  }

  /** Lazy: the sandbox is looked up on the first dial; a missing one fails that dial. */
  portDialer(podSandboxId: string): PortDialer {
    return new DockerPortDialer({ engine: this.#o.engine, podSandboxId, nodePath: this.#o.nodePath });
  }
}
