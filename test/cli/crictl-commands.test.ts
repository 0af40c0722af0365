// berth's crictl-style pod and container commands, run as a user runs them (bin/berth in a
// subprocess), against a real containerd (Debian's 1.6) that the test starts with its own config:
// runp → create → start → ps → exec -s → logs → stats → update → stop → rm → stopp → rmp, then
// nothing of the pod may remain on the host. Images come from a registry on loopback standing in
// for docker.io.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tabTable } from '../../src/cli/output/tabwriter.ts';
import { startContainerd, type TestContainerd } from '../support/containerd.ts';
import { busyboxLikeImage, type ImageSpec, pushImage } from '../support/image-builder.ts';
import { startRegistry, type TestRegistry } from '../support/registry.ts';

const BERTH = path.resolve(import.meta.dirname, '..', '..', 'bin', 'berth');
const LONG_LINE = 'x'.repeat(40_000); // containerd cuts lines at 16 KiB: P, P, F records

/** Output with long runs of x shortened (x*40000), so that a failure reads well. */
function short(r: { code: number; stdout: string; stderr: string }) {
  const s = (t: string) => t.replace(/x{100,}/g, (m) => `x*${m.length}`);
  return { code: r.code, stdout: s(r.stdout), stderr: s(r.stderr) };
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The busybox fixture with its hard-linked applets executable: the fixture's hardlink entries carry
 * mode 0644, and containerd applies a hardlink's mode to the shared inode, busybox itself included.
 */
function executableBusybox(config: ImageSpec['config'] = {}): ImageSpec {
  const spec = busyboxLikeImage({ config });
  for (const layer of spec.layers) {
    for (const entry of layer.entries ?? []) if (entry.type === 'hardlink') entry.mode = 0o755;
  }
  return spec;
}

/** Cells of a table line: columns are at least three spaces apart and no cell holds three spaces. */
function cells(line: string): string[] {
  return line.split(/ {3,}/);
}

/** The table parsed back into cells and laid out again must give the same text: columns line up as crictl's do. */
function assertLaidOut(table: string): string[][] {
  const rows = table.trimEnd().split('\n').map(cells);
  assert.equal(table, tabTable(rows));
  return rows;
}

describe('berth pod and container commands against containerd', { timeout: 300_000 }, () => {
  let dir = '';
  let registry: TestRegistry | undefined;
  let containerd: TestContainerd | undefined;
  let podId = '';
  let mainId = '';
  let jobId = '';

  const berth = (...args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        BERTH,
        ['-r', containerd!.endpoint, ...args],
        { encoding: 'utf8', timeout: 60_000, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
          resolve({ code, stdout, stderr });
        },
      );
    });
  const ok = async (...args: string[]): Promise<string> => {
    const r = await berth(...args);
    assert.equal(r.code, 0, `berth ${args.join(' ')} failed (${r.code}):\n${r.stderr}`);
    return r.stdout;
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-cli-test-'));
    registry = await startRegistry();
    await pushImage(registry, `${registry.host}/library/busybox:1.36`, executableBusybox());
    await pushImage(
      registry,
      `${registry.host}/library/pause:3.9`,
      executableBusybox({ Entrypoint: ['/bin/sleep', '2147483647'], Cmd: null }),
    );
    containerd = await startContainerd({
      registryHost: registry.host,
      sandboxImage: 'docker.io/library/pause:3.9',
      subnet: '10.98.0.0/24',
      mirroredRegistries: ['docker.io'],
      portmap: false,
      cleanup: 'owned',
      names: { tempDirPrefix: 'berth-cli-ctrd-', bridgePrefix: 'bcli', networkPrefix: 'berth-cli-' },
    });

    // The pod in JSON, the containers in YAML: the CRI's field names, as crictl reads them.
    await writeFile(
      path.join(dir, 'pod.json'),
      JSON.stringify({
        metadata: { name: 'web', namespace: 'berth-test', uid: 'uid-web', attempt: 0 },
        log_directory: path.join(dir, 'logs'),
        labels: { app: 'web' },
        linux: { security_context: { namespace_options: { pid: 1 } } },
      }),
    );
    await writeFile(
      path.join(dir, 'main.yaml'),
      `metadata: {name: main}
image: {image: "busybox:1.36"}
command: [sh, -c, 'trap "exit 0" TERM; echo ready; echo "greeting $GREETING"; sleep 0.3; echo warn >&2; sleep 0.5; printf "%40000s\\n" "" | tr " " x; while :; do sleep 1; done']
envs: [{key: GREETING, value: hello}]
log_path: main/0.log
labels: {io.kubernetes.pod.name: web}
`,
    );
    await writeFile(
      path.join(dir, 'job.yaml'),
      `metadata: {name: job}
image: {image: "busybox:1.36"}
command: [sh, -c, 'for i in 1 2 3; do echo "line $i"; sleep 1; done']
log_path: job/0.log
labels: {io.kubernetes.pod.name: web}
`,
    );
  });

  after(async () => {
    await containerd?.stop();
    await registry?.stop();
    if (dir !== '') await rm(dir, { recursive: true, force: true });
  });

  test('runp prints the pod ID', async () => {
    const out = await ok('runp', path.join(dir, 'pod.json'));
    assert.match(out, /^[0-9a-f]{64}\n$/);
    podId = out.trim();
    // The fixture sees what a running pod holds on the host (so that it can tell when it is gone).
    const held = await containerd!.leftovers();
    for (const kind of ['shim socket', 'network namespace', 'CNI cache', 'NAT chain']) {
      assert.ok(
        held.some((h) => h.startsWith(kind)),
        `${kind} of the running pod not seen: ${JSON.stringify(held)}`,
      );
    }
  });

  test('create pulls the missing image and prints the container ID; the pod may be named by a prefix', async () => {
    const out = await ok('create', podId.slice(0, 8), path.join(dir, 'main.yaml'), path.join(dir, 'pod.json'));
    assert.match(out, /^[0-9a-f]{64}\n$/);
    mainId = out.trim();
    assert.match(await ok('images'), /docker\.io\/library\/busybox\s+1\.36/);
    // --no-pull does not pull what is missing: containerd refuses the config.
    await writeFile(path.join(dir, 'missing.yaml'), 'metadata: {name: missing}\nimage: {image: "busybox:no-such-tag"}\n');
    const r = await berth('create', '--no-pull', podId, path.join(dir, 'missing.yaml'), path.join(dir, 'pod.json'));
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^berth create: creating container: .*not found/);
  });

  test('start takes a container ID prefix and prints it', async () => {
    assert.equal(await ok('start', mainId.slice(0, 6)), `${mainId.slice(0, 6)}\n`);
  });

  test('ps and pods print crictl 1.26 tables', async () => {
    const ps = await ok('ps');
    const rows = assertLaidOut(ps);
    assert.deepEqual(rows[0], ['CONTAINER', 'IMAGE', 'CREATED', 'STATE', 'NAME', 'ATTEMPT', 'POD ID', 'POD']);
    assert.equal(rows.length, 2);
    const [id, image, created, state, name, attempt, pod, podName] = rows[1]!;
    assert.deepEqual(
      [id, image, state, name, attempt, pod, podName],
      [mainId.slice(0, 13), 'busybox:1.36', 'Running', 'main', '0', podId.slice(0, 13), 'web'],
    );
    assert.match(created!, /^(Less than a second|1 second|\d+ seconds) ago$/);
    assert.equal(await ok('ps', '-q'), `${mainId}\n`);
    const json = JSON.parse(await ok('ps', '-o', 'json')) as { containers: { id: string; state: string; createdAt: string }[] };
    assert.equal(json.containers[0]?.id, mainId);
    assert.equal(json.containers[0]?.state, 'CONTAINER_RUNNING');
    assert.match(json.containers[0]!.createdAt, /^\d+$/);
    assert.match(await ok('ps', '-o', 'yaml'), /state: CONTAINER_RUNNING/);
    assert.equal(await ok('ps', '-q', '--name', '^ma', '--pod', podId.slice(0, 5), '--label', 'io.kubernetes.pod.name=web'), `${mainId}\n`);
    assert.equal(await ok('ps', '-q', '--name', 'nomatch'), '');

    const pods = assertLaidOut(await ok('pods'));
    assert.deepEqual(pods[0], ['POD ID', 'CREATED', 'STATE', 'NAME', 'NAMESPACE', 'ATTEMPT', 'RUNTIME']);
    assert.deepEqual([pods[1]![0], ...pods[1]!.slice(2)], [podId.slice(0, 13), 'Ready', 'web', 'berth-test', '0', '(default)']);
    assert.equal(await ok('pods', '-q', '--label', 'app=web', '--state', 'ready', '--namespace', 'test$'), `${podId}\n`);
    assert.equal(await ok('pods', '-q', '--label', 'app=other'), '');
    assert.match(await ok('pods', '-v'), new RegExp(`^ID: ${podId}\nName: web\nUID: uid-web\nNamespace: berth-test\nStatus: Ready\n`));
  });

  test('exec -s prints the command output on stdout and stderr and exits with its code', async () => {
    const r = await berth('exec', '-s', mainId.slice(0, 5), 'sh', '-c', 'echo out; echo err >&2; exit 3');
    assert.deepEqual(r, { code: 3, stdout: 'out\n', stderr: 'err\n' });
    assert.equal(await ok('exec', '-s', '--timeout', '10', mainId, 'cat', '/etc/motd'), 'berth test image\n');
    const timedOut = await berth('exec', '-s', '--timeout', '1', mainId, 'sleep', '10');
    assert.equal(timedOut.code, 1);
    assert.match(timedOut.stderr, /command "sleep 10" timed out/);
    // Without -s, through containerd's streaming server.
    const streaming = await berth('exec', mainId, 'sh', '-c', 'echo streamed; exit 4');
    assert.deepEqual(streaming, { code: 4, stdout: 'streamed\n', stderr: '' });
  });

  test('logs: stdout to stdout, stderr to stderr, partial records joined; --tail counts whole lines', async () => {
    const inspect = JSON.parse(await ok('inspect', mainId)) as { status: { logPath: string } };
    const file = await readFile(inspect.status.logPath, 'utf8');
    assert.match(file, / stdout P x{1000}/, 'containerd splits the long line into partial records');
    const r = await berth('logs', mainId);
    assert.deepEqual(short(r), short({ code: 0, stdout: `ready\ngreeting hello\n${LONG_LINE}\n`, stderr: 'warn\n' }));
    // The last whole line is the long one, although it takes three records in the file.
    const tail = await berth('logs', '--tail', '1', mainId.slice(0, 7));
    assert.deepEqual(short(tail), short({ code: 0, stdout: `${LONG_LINE}\n`, stderr: '' }));
    const stamped = short(await berth('logs', '-t', '--tail', '2', mainId));
    assert.match(stamped.stderr, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z warn\n$/);
    assert.match(stamped.stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z x\*40000\n$/);
    assert.deepEqual(short(await berth('logs', '--since', '1h', mainId)), short(r));
    assert.deepEqual(short(await berth('logs', '--since', '2000-01-01T00:00:00Z', '--limit-bytes', '8', mainId)), {
      code: 0,
      stdout: 'ready\ngr',
      stderr: '',
    });
  });

  test('stats prints CPU %, memory, disk and inodes from two samples', async () => {
    const rows = assertLaidOut(await ok('stats'));
    assert.deepEqual(rows[0], ['CONTAINER', 'NAME', 'CPU %', 'MEM', 'DISK', 'INODES']);
    const row = rows.find((r) => r[0] === mainId.slice(0, 13));
    assert.ok(row, `no row for ${mainId}: ${JSON.stringify(rows)}`);
    assert.equal(row[1], 'main');
    assert.match(row[2]!, /^\d+\.\d\d$/);
    assert.match(row[3]!, /^[\d.]+(B|kB|MB)$/);
    assert.match(row[4]!, /^[\d.]+(B|kB|MB)$/);
    assert.match(row[5]!, /^\d+$/);
    const json = JSON.parse(await ok('stats', '-o', 'json', '--id', mainId.slice(0, 6))) as { stats: { attributes: { id: string } }[] };
    assert.deepEqual(
      json.stats.map((s) => s.attributes.id),
      [mainId],
    );
  });

  test('inspect and inspectp print status and info as JSON or YAML', async () => {
    const c = JSON.parse(await ok('inspect', mainId.slice(0, 9))) as {
      status: { id: string; state: string; createdAt: string; finishedAt: string; labels: Record<string, string> };
      info: { pid: number; sandboxID: string };
    };
    assert.equal(c.status.id, mainId);
    assert.equal(c.status.state, 'CONTAINER_RUNNING');
    assert.match(c.status.createdAt, /^\d{4}-\d\d-\d\dT[\d:.]+Z$/);
    assert.equal(c.status.finishedAt, '0001-01-01T00:00:00Z');
    assert.ok(c.info.pid > 0);
    assert.equal(c.info.sandboxID, podId);
    const p = JSON.parse(await ok('inspectp', podId.slice(0, 9))) as { status: { state: string; network: { ip: string } } };
    assert.equal(p.status.state, 'SANDBOX_READY');
    assert.match(p.status.network.ip, /^10\.98\.0\.\d+$/);
    assert.match(await ok('inspectp', '-o', 'yaml', podId), /^ {2}state: SANDBOX_READY$/m);
    const missing = await berth('inspect', 'no-such-container');
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^berth inspect: getting the status of the container "no-such-container": .*not found/);
  });

  test('update changes the container resources', async () => {
    assert.equal(await ok('update', '--memory', '67108864', '--cpu-share', '512', mainId.slice(0, 6)), `${mainId.slice(0, 6)}\n`);
    const c = JSON.parse(await ok('inspect', mainId)) as {
      status: { resources: { linux: { memoryLimitInBytes: string; cpuShares: string } } };
    };
    assert.equal(c.status.resources.linux.memoryLimitInBytes, '67108864');
    assert.equal(c.status.resources.linux.cpuShares, '512');
  });

  test('logs -f follows until the container exits', async () => {
    jobId = (await ok('create', podId, path.join(dir, 'job.yaml'), path.join(dir, 'pod.json'))).trim();
    await ok('start', jobId);
    // It returns by itself, with everything, once the container has exited.
    const r = await berth('logs', '-f', jobId);
    assert.deepEqual(r, { code: 0, stdout: 'line 1\nline 2\nline 3\n', stderr: '' });
    const rows = assertLaidOut(await ok('ps', '-a', '--name', '^job$'));
    assert.equal(rows[1]?.[3], 'Exited');
  });

  test('stop, rm, stopp and rmp print what crictl prints', async () => {
    // A running pod is not removed without -f.
    const refused = await berth('rmp', podId);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /is running, please stop it first/);
    const running = await berth('rm', mainId);
    assert.equal(running.code, 1);
    assert.match(running.stderr, /is running, please stop it first[\s\S]*unable to remove container\(s\)/);

    assert.equal(await ok('stop', '-t', '10', mainId), `${mainId}\n`);
    const c = JSON.parse(await ok('inspect', mainId)) as { status: { state: string; exitCode: number } };
    assert.deepEqual([c.status.state, c.status.exitCode], ['CONTAINER_EXITED', 0]);
    assert.equal(await ok('rm', mainId.slice(0, 10), jobId), `${mainId.slice(0, 10)}\n${jobId}\n`);
    assert.equal(await ok('ps', '-a', '-q'), '');
    assert.equal(await ok('stopp', podId.slice(0, 12)), `Stopped sandbox ${podId.slice(0, 12)}\n`);
    assert.match(await ok('pods', '--state', 'notready'), /NotReady/);
    assert.equal(await ok('rmp', podId.slice(0, 12)), `Removed sandbox ${podId.slice(0, 12)}\n`);
    assert.equal(await ok('pods', '-q'), '');
  });

  test('nothing of the pod is left on the host, and containerd stops clean', async () => {
    assert.deepEqual(await containerd!.leftovers(), []);
    assert.deepEqual(await containerd!.stop(), []);
    assert.equal(existsSync(containerd!.dir), false);
    const links = await new Promise<string>((resolve) => execFile('ip', ['-o', 'link', 'show'], (_e, stdout) => resolve(stdout)));
    assert.equal(links.includes(containerd!.bridge), false, `bridge ${containerd!.bridge} is left`);
  });
});
