// A real Docker Engine with the busybox-like test image pulled from a registry on loopback, and
// containers laid out as the dockershim lays them (labels of src/docker/docker-labels.ts).
// cleanUp() removes everything, also after a failed test.
import type Docker from 'dockerode';
import { connectDockerEngine, type DockerEngine } from '../../src/docker/docker-engine.ts';
import { containerInternalLabels, sandboxInternalLabels } from '../../src/docker/docker-labels.ts';
import { type DockerEngineOptions, startDockerEngine, type TestDockerEngine } from '../support/docker-engine.ts';
import { busyboxLikeImage, pushImage } from '../support/image-builder.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

export type ContainerExtras = Partial<Docker.ContainerCreateOptions> & { logPath?: string };

export interface DockerTestEnv {
  engine: TestDockerEngine;
  /** The dockershim's connection (version negotiated). */
  connection: DockerEngine;
  registry: TestRegistry;
  /** `127.0.0.1:PORT/library/busybox:1`, pulled into the engine. */
  image: string;
  /** A sandbox container (sleeps), labelled as the dockershim labels one. */
  createSandbox(name: string, host?: Docker.HostConfig): Promise<Docker.Container>;
  /** A container of `sandboxId` running `cmd`. */
  createContainer(sandboxId: string, name: string, cmd: string[], extra?: ContainerExtras): Promise<Docker.Container>;
  cleanUp(): Promise<void>;
}

export async function startDockerTestEnv(options: DockerEngineOptions = {}): Promise<DockerTestEnv> {
  const registry = await startRegistry();
  let engine: TestDockerEngine | undefined;
  try {
    engine = await startDockerEngine(options);
    await pushImage(registry, 'library/busybox:1', busyboxLikeImage());
    const image = `${registry.host}/library/busybox:1`;
    const docker = engine.docker;
    const stream = await docker.pull(image);
    await new Promise<void>((resolve, reject) => docker.modem.followProgress(stream, (err) => (err ? reject(err) : resolve())));
    const connection = await connectDockerEngine(engine.host);
    const e = engine;
    return {
      engine: e,
      connection,
      registry,
      image,
      createSandbox: (name, host = {}) =>
        docker.createContainer({
          name,
          Image: image,
          Cmd: ['sleep', '3600'],
          Labels: sandboxInternalLabels(),
          HostConfig: { NetworkMode: 'none', ...host },
        }),
      createContainer: (sandboxId, name, cmd, { logPath = '/nonexistent', ...extra } = {}) =>
        docker.createContainer({
          name,
          Image: image,
          Cmd: cmd,
          ...extra,
          Labels: { ...containerInternalLabels(sandboxId, logPath), ...extra.Labels },
          HostConfig: { NetworkMode: `container:${sandboxId}`, ...extra.HostConfig },
        }),
      async cleanUp() {
        await e.stop();
        await registry.stop();
      },
    };
  } catch (err) {
    await engine?.stop();
    await registry.stop();
    throw err;
  }
}
