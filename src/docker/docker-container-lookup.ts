// The container a streaming request or ExecSync names, as the engine sees it now: missing is
// NOT_FOUND, not running is FAILED_PRECONDITION, an engine that cannot be reached UNAVAILABLE.
import type Docker from 'dockerode';
import { failedPrecondition, notFound } from '../errors/errors.ts';
import { type DockerEngine, dockerCall, isDockerNotFound } from './docker-engine.ts';

export async function inspectContainer(engine: DockerEngine, id: string): Promise<Docker.ContainerInspectInfo> {
  try {
    return await dockerCall(`inspect container ${id}`, () => engine.docker.getContainer(id).inspect());
  } catch (e) {
    if (isDockerNotFound(e)) throw notFound('container-not-found', `container ${id} not found`, { cause: e, fields: { id } });
    throw e;
  }
}

export async function runningContainer(engine: DockerEngine, id: string): Promise<Docker.ContainerInspectInfo> {
  return checkRunning(await inspectContainer(engine, id), id);
}

/** `info` when it runs; FAILED_PRECONDITION otherwise. */
export function checkRunning(info: Docker.ContainerInspectInfo, id: string): Docker.ContainerInspectInfo {
  if (!info.State.Running || info.State.Paused) {
    throw failedPrecondition('container-not-running', `container ${id} is not running (state: ${info.State.Status})`, {
      fields: { id, state: info.State.Status },
    });
  }
  return info;
}
