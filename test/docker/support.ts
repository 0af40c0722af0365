// Shared by the dockershim's streaming tests: the engine and image of docker-fixtures.ts, plain
// containers of that image (a sandbox is one with network mode none), and berth's streaming
// server in front of the DockerStreamBackend.
import type Docker from 'dockerode';
import type { DockerEngine } from '../../src/docker/docker-engine.ts';
import { DockerStreamBackend } from '../../src/docker/docker-stream-backend.ts';
import { StreamingServer } from '../../src/streaming/daemon/streaming-server.ts';
import { silentLogger } from '../../src/util/logger.ts';
import type { TestDockerEngine } from '../support/docker-engine.ts';
import type { TestRegistry } from '../support/registry.ts';
import { startDockerTestEnv } from './docker-fixtures.ts';

export interface DockerStreamEnv {
  engine: TestDockerEngine;
  docker: DockerEngine;
  registry: TestRegistry;
  /** The busybox-like image, pulled into the engine. */
  image: string;
  server: StreamingServer;
  /** Creates and starts a container of the image running `sh -c script`; options merge over the defaults. */
  run(script: string, options?: Docker.ContainerCreateOptions): Promise<string>;
  stop(): Promise<void>;
}

export async function startDockerStreamEnv(): Promise<DockerStreamEnv> {
  const base = await startDockerTestEnv();
  let server: StreamingServer;
  try {
    server = await StreamingServer.start({
      address: '127.0.0.1',
      port: 0,
      idleTimeoutMs: 0,
      tokenTtlMs: 60_000,
      backend: new DockerStreamBackend({ engine: base.connection }),
      logger: silentLogger(),
    });
  } catch (e) {
    await base.cleanUp();
    throw e;
  }
  let n = 0;
  const run = async (script: string, options: Docker.ContainerCreateOptions = {}): Promise<string> => {
    const c = await base.engine.docker.createContainer({
      Image: base.image,
      name: `berth-stream-${++n}`,
      Cmd: ['sh', '-c', script],
      ...options,
      HostConfig: { NetworkMode: 'none', ...options.HostConfig },
    });
    await c.start();
    return c.id;
  };
  return {
    engine: base.engine,
    docker: base.connection,
    registry: base.registry,
    image: base.image,
    server,
    run,
    async stop() {
      await server.close().catch(() => {});
      await base.cleanUp();
    },
  };
}
