// CRI CreateContainer requests as a client may send them: decoded as grpc-js decodes them, turned
// into berth's spec input, and built into an OCI spec. Host effects (bind-mount sources, device
// nodes, a Localhost seccomp profile read from a file) are taken out of the input first: the
// target checks the conversion and the spec logic, not the host's files.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { containerConfig } from '../../../src/cri-api/cri-spec-input.ts';
import { ContainerConfigSchema, NamespaceMode } from '../../../src/cri-api/gen/runtime/v1/api_pb.js';
import { buildContainerSpec } from '../../../src/runtime/spec/container-spec.ts';
import type { ContainerConfigInput } from '../../../src/runtime/spec/spec-input.ts';
import { makeTempDir, type TempDir } from '../../support/tmp.ts';
import type { FuzzTarget } from '../engine.ts';
import { invariant, refusalOrResult } from '../expect.ts';

let rootfs: TempDir | undefined;

async function imageRoot(): Promise<string> {
  if (!rootfs) {
    rootfs = await makeTempDir('berth-fuzz-rootfs-');
    await mkdir(path.join(rootfs.path, 'etc'));
    await writeFile(path.join(rootfs.path, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nweb:x:1000:1000::/home/web:/bin/sh\n');
    await writeFile(path.join(rootfs.path, 'etc/group'), 'root:x:0:\nweb:x:1000:\nextra:x:2000:web\n');
  }
  return rootfs.path;
}

function withoutHostEffects(input: ContainerConfigInput): ContainerConfigInput {
  const sc = input.securityContext;
  const hostFree = (p: typeof sc extends undefined ? never : NonNullable<typeof sc>['seccomp']) =>
    p?.type === 'localhost' ? { type: 'runtime-default' as const } : p;
  return {
    ...input,
    mounts: [],
    devices: [],
    ...(sc ? { securityContext: { ...sc, seccomp: hostFree(sc.seccomp), apparmor: hostFree(sc.apparmor) } } : {}),
  };
}

const seeds = () =>
  [
    create(ContainerConfigSchema, {
      metadata: { name: 'app', attempt: 1 },
      image: { image: 'busybox' },
      command: ['/bin/sh'],
      args: ['-c', 'sleep 1'],
      workingDir: '/srv',
      envs: [{ key: 'A', value: new TextEncoder().encode('b') }],
      labels: { a: 'b' },
      annotations: { 'x/y': 'z' },
      logPath: 'app/0.log',
      tty: true,
      linux: {
        resources: {
          cpuPeriod: 100000n,
          cpuQuota: 50000n,
          cpuShares: 512n,
          memoryLimitInBytes: 64n << 20n,
          oomScoreAdj: -998n,
          cpusetCpus: '0',
          hugepageLimits: [{ pageSize: '2MB', limit: 0n }],
          unified: { 'memory.high': '1' },
        },
        securityContext: {
          capabilities: { addCapabilities: ['NET_ADMIN'], dropCapabilities: ['ALL'] },
          runAsUser: { value: 1000n },
          runAsGroup: { value: 1000n },
          supplementalGroups: [2000n],
          readonlyRootfs: true,
          noNewPrivs: true,
          maskedPaths: ['/proc/kcore'],
          readonlyPaths: ['/proc/sys'],
          namespaceOptions: { network: NamespaceMode.POD, pid: NamespaceMode.CONTAINER, ipc: NamespaceMode.POD },
          seccomp: { profileType: 0 },
        },
      },
    }),
    create(ContainerConfigSchema, { metadata: { name: 'priv' }, linux: { securityContext: { privileged: true, runAsUsername: 'web' } } }),
    create(ContainerConfigSchema, {}),
  ].map((c) => Buffer.from(toBinary(ContainerConfigSchema, c)));

export const criConversionTarget: FuzzTarget = {
  name: 'cri-conversion',
  cover: ['/src/services/cri-spec-input', '/src/runtime/spec/'],
  maxLength: 4096,
  seeds,
  async run(input) {
    let config: ReturnType<typeof fromBinary<typeof ContainerConfigSchema>>;
    try {
      config = fromBinary(ContainerConfigSchema, input);
    } catch {
      return; // not a message: grpc-js refuses it before berth sees it
    }
    const converted = await refusalOrResult(() => containerConfig(config));
    if (!converted) return;
    const root = await imageRoot();
    const spec = await refusalOrResult(() =>
      buildContainerSpec({
        id: 'c'.repeat(64),
        config: withoutHostEffects(converted),
        image: { Env: ['PATH=/bin'], User: '' },
        rootfs: root,
        pod: { id: 'p'.repeat(64), name: 'pod', namespace: 'default', uid: 'u', hostname: 'pod', cgroupParent: '/berth-fuzz' },
        host: { cgroupV2: false, minOomScoreAdj: 0, hostDevices: [] },
      }),
    );
    if (spec) {
      invariant(Array.isArray(spec.process?.args) && spec.process.args.length > 0, 'spec without process args');
      const adj = spec.process?.oomScoreAdj;
      invariant(adj === undefined || (adj >= 0 && adj <= 1000), `oom_score_adj ${adj} below the daemon's own`);
      invariant(spec.root?.path === root, 'spec root moved');
    }
  },
  async close() {
    await rootfs?.remove();
    rootfs = undefined;
  },
};
