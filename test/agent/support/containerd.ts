// containerd (test/support/containerd.ts) as a runtime under test for the node scenarios: its own
// subnet and bridge, and on stop the 'subnet' clean-up scope (namespaces with an address of the
// subnet, iptables back to the snapshot taken at start).
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { startContainerd } from '../../support/containerd.ts';
import type { TestRegistry } from '../../support/registry.ts';
import { ipAllocationsOf, processesAndMountsOf, type RuntimeUnderTest, subnetPrefix } from './runtime-under-test.ts';

const run = promisify(execFile);

/** containerd as a runtime under test for the node scenarios. */
export async function startContainerdRuntime(registry: TestRegistry, options: { subnet?: string } = {}): Promise<RuntimeUnderTest> {
  const containerd = await startContainerd({
    registryHost: registry.host,
    cleanup: 'subnet',
    ...(options.subnet ? { subnet: options.subnet } : {}),
  });
  return {
    endpoint: containerd.endpoint,
    subnet: containerd.subnet,
    runtimeName: 'containerd',
    logs: containerd.logs,
    async leftovers({ sandboxes, containers }) {
      return [
        ...(await processesAndMountsOf([...sandboxes, ...containers])),
        ...(await ipAllocationsOf(containerd.ipamNetworkDir, sandboxes)),
      ];
    },
    async stop() {
      await containerd.stop();
    },
    async hostLeftovers() {
      const found: string[] = [];
      const mounts = await readFile('/proc/self/mountinfo', 'utf8');
      if (mounts.includes(containerd.dir)) found.push(`mounts under ${containerd.dir}`);
      const links = (await run('ip', ['-o', 'link', 'show'])).stdout;
      if (links.includes(`${containerd.bridge}:`)) found.push(`the bridge ${containerd.bridge}`);
      const nat = (await run('iptables-save', ['-t', 'nat'])).stdout;
      const prefix = subnetPrefix(containerd.subnet);
      for (const line of nat.split('\n')) if (line.includes(prefix)) found.push(`NAT rule ${line}`);
      return found;
    },
  };
}
