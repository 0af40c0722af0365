// Port-forward into a Docker pod sandbox. The sandbox is a container of its own (network mode
// none, networked by CNI): a relay in its network namespace, /proc/<its pid>/ns/net, does the
// dialing; a sandbox on the host network is dialed directly. StreamBackend.portDialer is
// synchronous and the engine is not, so the sandbox is looked up on the first dial, once.
import type { Duplex } from 'node:stream';
import { failedPrecondition, notFound, unavailable } from '../errors/errors.ts';
import { HostDialer, NetnsDialer, type PortDialer } from '../streaming/daemon/port-dialer.ts';
import { inspectContainer } from './docker-container-lookup.ts';
import type { DockerEngine } from './docker-engine.ts';

export interface DockerPortDialerOptions {
  engine: DockerEngine;
  podSandboxId: string;
  /** The Node binary the relay runs on; default the one running the dockershim. */
  nodePath?: string;
}

/** The dialer a sandbox needs, as the engine sees it now. */
export async function sandboxDialer(options: DockerPortDialerOptions): Promise<PortDialer> {
  const id = options.podSandboxId;
  const info = await inspectContainer(options.engine, id).catch((e: unknown) => {
    if ((e as { code?: string }).code === 'container-not-found') {
      throw notFound('sandbox-not-found', `pod sandbox ${id} not found`, { cause: e, fields: { id } });
    }
    throw e;
  });
  if (info.HostConfig.NetworkMode === 'host') return new HostDialer();
  if (!info.State.Running || !(info.State.Pid > 0)) {
    throw failedPrecondition('sandbox-not-ready', `pod sandbox ${id} is not running (state: ${info.State.Status})`, {
      fields: { id, state: info.State.Status },
    });
  }
  return new NetnsDialer({ netns: `/proc/${info.State.Pid}/ns/net`, nodePath: options.nodePath });
}

export class DockerPortDialer implements PortDialer {
  readonly #options: DockerPortDialerOptions;
  #inner: Promise<PortDialer> | undefined;
  #closed = false;

  constructor(options: DockerPortDialerOptions) {
    this.#options = options;
  }

  async dial(port: number): Promise<Duplex> {
    if (this.#closed) throw unavailable('port-forward-closed', 'the port-forward session is closed');
    this.#inner ??= sandboxDialer(this.#options);
    return (await this.#inner).dial(port);
  }

  async close(): Promise<void> {
    this.#closed = true;
    const inner = await this.#inner?.catch(() => undefined);
    await inner?.close();
  }
}
