// Streaming commands against any CRI endpoint: exec (interactive, with -i/-t), attach and
// port-forward. The CRI hands out a URL on the runtime's streaming server; stream-session.ts runs the
// session on it.
import type { CriClient } from '../cri/cri-client.ts';
import { invalidArgument } from '../errors/errors.ts';
import { defineCommand, type Endpoints, endpointsFrom } from './command.ts';
import { resolveContainerIds, resolvePodIds, withContext, withCri } from './container-cri.ts';
import { podPortForwardCommand } from './kube-commands.ts';
import { parsePortSpec, runPortForward, runSession } from './stream-session.ts';

/** `berth exec [-i] [-t] CONTAINER CMD...` without -s: a streaming exec; resolves with the command's exit status. */
export async function streamingExec(
  ep: Endpoints,
  container: string,
  cmd: string[],
  io: { stdin: boolean; tty: boolean },
): Promise<number> {
  return withCri(ep, async (cri) => {
    const [id] = await resolveContainerIds(cri, [container], ep.timeoutMs);
    const getUrl = async (): Promise<string> =>
      (
        await cri.runtime
          .exec({ containerId: id, cmd, tty: io.tty, stdin: io.stdin, stdout: true, stderr: !io.tty }, { timeoutMs: ep.timeoutMs })
          .catch((e: unknown) => {
            throw withContext(e, 'exec failed');
          })
      ).url;
    return runSession(getUrl, io, 'exec');
  });
}

const attachCommand = defineCommand({
  name: 'attach',
  summary: 'Attach to a running container',
  args: 'CONTAINER-ID',
  flags: {
    stdin: { type: 'boolean', short: 'i', help: 'pass stdin to the container' },
    tty: { type: 'boolean', short: 't', help: 'the container runs on a terminal' },
  },
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length !== 1) throw invalidArgument('bad-flag', 'attach needs exactly one CONTAINER-ID');
    const ep = endpointsFrom(globals);
    const io = { stdin: values.stdin === true, tty: values.tty === true };
    return withCri(ep, async (cri: CriClient) => {
      const [id] = await resolveContainerIds(cri, positionals, ep.timeoutMs);
      const getUrl = async (): Promise<string> =>
        (
          await cri.runtime
            .attach({ containerId: id, stdin: io.stdin, tty: io.tty, stdout: true, stderr: !io.tty }, { timeoutMs: ep.timeoutMs })
            .catch((e: unknown) => {
              throw withContext(e, 'attach failed');
            })
        ).url;
      return runSession(getUrl, io, 'attach');
    });
  },
});

const portForwardCommand = defineCommand({
  name: 'port-forward',
  summary: 'Forward local ports to a pod',
  args: 'POD-ID [LOCAL_PORT:]REMOTE_PORT...',
  flags: {
    address: { type: 'string', multiple: true, value: 'ADDR', help: 'local addresses to listen on (default localhost)' },
  },
  podForm: podPortForwardCommand,
  async run({ flags: values, args: positionals, globals }) {
    if (positionals.length < 2) throw invalidArgument('bad-flag', 'port-forward needs POD-ID and at least one [LOCAL_PORT:]REMOTE_PORT');
    const ports = positionals.slice(1).map(parsePortSpec);
    const ep = endpointsFrom(globals);
    const addresses = values.address?.flatMap((a) => a.split(',')).flatMap((a) => (a === 'localhost' ? ['127.0.0.1', '::1'] : [a]));
    return withCri(ep, async (cri) => {
      const [podId] = await resolvePodIds(cri, [positionals[0]!], ep.timeoutMs);
      const { url } = await cri.runtime
        .portForward({ podSandboxId: podId, port: ports.map((p) => p.remote) }, { timeoutMs: ep.timeoutMs })
        .catch((e: unknown) => {
          throw withContext(e, 'port forward failed');
        });
      return runPortForward(url, ports, addresses);
    });
  },
});

export const streamCommands = [attachCommand, portForwardCommand];
