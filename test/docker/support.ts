// Shared by the dockershim's streaming tests: a real Docker Engine with the busybox-like test
// image pulled from a registry on loopback, containers made with dockerode as the dockershim
// would make them (a sandbox with network mode none, workloads beside it), and berth's streaming
// server in front of the DockerStreamBackend.
import type Docker from 'dockerode';
import { connectDockerEngine, type DockerEngine } from '../../src/docker/docker-engine.ts';
import { DockerStreamBackend } from '../../src/docker/docker-stream-backend.ts';
import { StreamingServer } from '../../src/streaming/daemon/streaming-server.ts';
import { silentLogger } from '../../src/util/logger.ts';
import { startDockerEngine, type TestDockerEngine } from '../support/docker-engine.ts';
import { busyboxLikeImage, pushImage } from '../support/image-builder.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

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

function pull(docker: Docker, ref: string): Promise<void> {
  return new Promise((resolve, reject) => {
    docker.pull(ref, (err: Error | null, stream: NodeJS.ReadableStream) => {
      if (err) {
        reject(err);
        return;
      }
      docker.modem.followProgress(stream, (e: Error | null) => (e ? reject(e) : resolve()));
    });
  });
}

export async function startDockerStreamEnv(): Promise<DockerStreamEnv> {
  const parts: { stop(): Promise<void> }[] = [];
  const stop = async (): Promise<void> => {
    for (const p of parts.reverse()) await p.stop().catch(() => {});
  };
  try {
    const registry = await startRegistry();
    parts.push(registry);
    const engine = await startDockerEngine();
    parts.push(engine);
    const pushed = await pushImage(registry, 'library/busybox:1', busyboxLikeImage({ format: 'docker' }));
    await pull(engine.docker, pushed.reference);
    const docker = await connectDockerEngine(engine.host);
    const server = await StreamingServer.start({
      address: '127.0.0.1',
      port: 0,
      idleTimeoutMs: 0,
      tokenTtlMs: 60_000,
      backend: new DockerStreamBackend({ engine: docker }),
      logger: silentLogger(),
    });
    parts.push({ stop: () => server.close() });
    let n = 0;
    const run = async (script: string, options: Docker.ContainerCreateOptions = {}): Promise<string> => {
      const c = await engine.docker.createContainer({
        Image: pushed.reference,
        name: `berth-stream-${++n}`,
        Cmd: ['sh', '-c', script],
        ...options,
        HostConfig: { NetworkMode: 'none', ...options.HostConfig },
      });
      await c.start();
      return c.id;
    };
    return { engine, docker, registry, image: pushed.reference, server, run, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
