// berth dockershim as a runtime under test for the node scenarios: a real Docker Engine of its own
// (test/support/docker-engine.ts) behind a real `berth dockershim` (test/support/dockershim.ts),
// with registry mirrors for docker.io and registry.k8s.io and a CNI network of its own (bridge +
// portmap on bridge `bdock…`). stop() removes every sandbox through the CRI, stops the dockershim
// and the engine (which removes what is left of its containers), the bridge and the NAT rules of
// the subnet — also after a failed test.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { bridgeConflist } from '../../support/cni-conflist.ts';
import { mountsUnder, unmountAll } from '../../support/daemon.ts';
import { startDockerEngine } from '../../support/docker-engine.ts';
import { startDockershim } from '../../support/dockershim.ts';
import type { TestRegistry } from '../../support/registry.ts';
import { makeTempDir } from '../../support/tmp.ts';
import { removeLink, restoreIptables, snapshotIptables } from './host-network-cleanup.ts';
import { ipAllocationsOf, processesAndMountsOf, type RuntimeUnderTest, subnetPrefix } from './runtime-under-test.ts';

const run = promisify(execFile);

async function tryRun(file: string, args: string[]): Promise<string> {
  try {
    return (await run(file, args, { timeout: 30_000 })).stdout;
  } catch {
    return '';
  }
}

export async function startDockershimRuntime(registry: TestRegistry, options: { subnet?: string } = {}): Promise<RuntimeUnderTest> {
  const subnet = options.subnet ?? '10.95.0.0/24';
  const bridge = `bdock${randomBytes(3).toString('hex')}`;
  const network = `berth-node-dock-${bridge}`;
  const iptablesBefore = await snapshotIptables();
  const tmp = await makeTempDir('berth-node-dock-');
  const cniConfDir = path.join(tmp.path, 'cni');
  const ipamDir = path.join(tmp.path, 'ipam');
  await mkdir(cniConfDir, { recursive: true });
  await writeFile(path.join(cniConfDir, '10-node-dock.conflist'), bridgeConflist(network, bridge, subnet, ipamDir));
  const engine = await startDockerEngine();
  const mirrors = [registry.url];
  let shim: Awaited<ReturnType<typeof startDockershim>>;
  try {
    shim = await startDockershim({
      dir: tmp.path,
      engine,
      mirrors: { 'docker.io': mirrors, 'registry.k8s.io': mirrors },
      sandboxImage: 'registry.k8s.io/pause:3.9',
      cniConfDir,
    });
  } catch (e) {
    await engine.stop();
    await tmp.remove();
    throw e;
  }

  const forced: string[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      try {
        const cri = shim.cri();
        for (const s of (await cri.runtime.listPodSandbox({}, { timeoutMs: 60_000 })).items) {
          await cri.runtime.removePodSandbox({ podSandboxId: s.id }, { timeoutMs: 60_000 }).catch(() => undefined);
        }
      } catch {
        // not answering: the engine's stop below takes the rest
      }
      await shim.terminate();
      const left = await engine.docker.listContainers({ all: true }).catch(() => []);
      forced.push(...left.map((c) => `docker container ${c.Names[0]}`));
      await engine.stop();
      await removeLink(bridge);
      await restoreIptables(iptablesBefore, subnet, bridge);
      const netnsRoot = path.join(shim.root, 'netns');
      const mounts = await mountsUnder(tmp.path);
      forced.push(...mounts.filter((m) => m !== netnsRoot).map((m) => `mount ${m}`));
      await unmountAll(mounts);
      await tmp.remove();
    })();
    return stopping;
  };

  return {
    endpoint: shim.endpoint,
    subnet,
    runtimeName: 'docker',
    logs: () => `${shim.logs()}\n--- dockerd ---\n${engine.logs().slice(-20_000)}`,
    async leftovers({ sandboxes, containers }) {
      const ids = [...sandboxes, ...containers];
      const found = [...(await processesAndMountsOf(ids)), ...(await ipAllocationsOf(path.join(ipamDir, network), sandboxes))];
      for (const c of await engine.docker.listContainers({ all: true }))
        if (ids.includes(c.Id)) found.push(`docker container ${c.Names[0]}`);
      for (const file of await readdir(path.join(shim.root, 'cni')).catch(() => [] as string[])) {
        if (sandboxes.some((id) => file.includes(id))) found.push(`CNI cache ${file}`);
      }
      for (const file of await readdir(path.join(shim.root, 'sandbox')).catch(() => [] as string[])) {
        if (sandboxes.includes(file)) found.push(`checkpoint ${file}`);
      }
      return found;
    },
    stop,
    restart: () => shim.restart(),
    async hostLeftovers() {
      const found = forced.map((f) => `cleaned by force: ${f}`);
      const mounts = await readFile('/proc/self/mountinfo', 'utf8');
      if (mounts.includes(tmp.path)) found.push(`mounts under ${tmp.path}`);
      const links = await tryRun('ip', ['-o', 'link', 'show']);
      if (links.includes(`${bridge}:`)) found.push(`the bridge ${bridge}`);
      const prefix = subnetPrefix(subnet);
      for (const line of (await tryRun('iptables-save', ['-t', 'nat'])).split('\n'))
        if (line.includes(prefix)) found.push(`NAT rule ${line}`);
      return found;
    },
  };
}
