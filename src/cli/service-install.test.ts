// berth install / uninstall into a staging root: units systemd-analyze accepts, the daemon's and
// the node's ExecStart lines run as written (in a mount and network namespace of their own, so
// that the final paths they name are private to the test), an operator's files kept.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { makeTempDir } from '../../test/support/tmp.ts';
import { CONFIG_FILE, DAEMON_UNIT, install, NODE_UNIT, uninstall } from './service-install.ts';

const run = promisify(execFile);
const BIN = path.resolve(import.meta.dirname, '../../bin/berth');
const UNITS = '/etc/systemd/system';

const execStart = (unit: string) => /^ExecStart=(.*)$/m.exec(unit)![1]!;

test('install writes units systemd-analyze verify accepts, and a bad unit is refused by it', async () => {
  await using root = await makeTempDir('berth-install-');
  const report = await install({ root: root.path, berthBin: BIN });
  assert.deepEqual(report.kept, []);
  assert.deepEqual(report.changed.sort(), [`${UNITS}/${DAEMON_UNIT}`, `${UNITS}/${NODE_UNIT}`, CONFIG_FILE, '/etc/crictl.yaml'].sort());
  const units = [DAEMON_UNIT, NODE_UNIT].map((u) => path.join(root.path, UNITS, u));
  await run('systemd-analyze', ['verify', ...units]);
  const daemon = await readFile(units[0]!, 'utf8');
  for (const line of ['KillMode=process', 'Delegate=yes', 'Restart=always', `ExecStart=${BIN} daemon --config ${CONFIG_FILE}`]) {
    assert.ok(daemon.includes(`\n${line}\n`), `${DAEMON_UNIT} lacks ${line}`);
  }
  const bad = path.join(root.path, 'bad.service');
  await writeFile(bad, daemon.replace(`ExecStart=${BIN}`, 'ExecStart=/nonexistent/berth'));
  await assert.rejects(run('systemd-analyze', ['verify', bad]), /not executable/);
});

test("the units' ExecStart lines start a serving daemon and a node agent", async () => {
  await using root = await makeTempDir('berth-install-');
  await install({ root: root.path, berthBin: BIN });
  const daemon = execStart(await readFile(path.join(root.path, UNITS, DAEMON_UNIT), 'utf8'));
  const node = execStart(await readFile(path.join(root.path, UNITS, NODE_UNIT), 'utf8'));
  // Private copies of the final paths: the staged /etc/berth, empty /var/lib/berth, /run/berth and /var/log/pods.
  const script = `
set -euo pipefail
for d in /etc/berth /var/lib/berth /run/berth /var/log/pods; do [ -d $d ] || { echo "needs $d"; exit 3; }; done
mount --bind ${root.path}/etc/berth /etc/berth
for d in /var/lib/berth /run/berth /var/log/pods; do mount -t tmpfs tmpfs $d; done
ip link set lo up
${daemon} >${root.path}/daemon.log 2>&1 &
for _ in $(seq 1 300); do ${BIN} version >/dev/null 2>&1 && break; sleep 0.1; done
${BIN} version
${node} >${root.path}/node.log 2>&1 &
for _ in $(seq 1 300); do grep -q 'berth node running' ${root.path}/node.log && break; sleep 0.1; done
grep -q 'berth node running' ${root.path}/node.log && echo node-running
kill %2 %1; wait || true
`;
  // The mount points must exist; create those missing on the host and take them away after.
  const made: string[] = [];
  for (const d of ['/etc/berth', '/var/lib/berth', '/run/berth', '/var/log/pods']) {
    const existed = await readdir(d).then(
      () => true,
      () => false,
    );
    if (!existed) {
      await mkdir(d, { recursive: true });
      made.push(d);
    }
  }
  try {
    const { stdout } = await run('unshare', ['--mount', '--net', '--propagation', 'private', 'bash', '-c', script], { timeout: 120_000 });
    assert.match(stdout, /RuntimeName:\s+berth/i);
    assert.match(stdout, /node-running/);
  } catch (e) {
    const logs = await Promise.all(['daemon.log', 'node.log'].map((f) => readFile(path.join(root.path, f), 'utf8').catch(() => '')));
    throw new Error(`${(e as Error).message}\ndaemon: ${logs[0]}\nnode: ${logs[1]}`);
  } finally {
    for (const d of made.reverse()) await run('rmdir', [d]).catch(() => undefined);
  }
});

test('install keeps what an operator wrote; uninstall removes only what berth wrote', async () => {
  await using root = await makeTempDir('berth-install-');
  await mkdir(path.join(root.path, 'etc/berth'), { recursive: true });
  await writeFile(path.join(root.path, CONFIG_FILE), 'log_level = "debug"\n');
  const first = await install({ root: root.path, berthBin: BIN });
  assert.deepEqual(first.kept, [CONFIG_FILE]);
  assert.equal(await readFile(path.join(root.path, CONFIG_FILE), 'utf8'), 'log_level = "debug"\n');
  const again = await install({ root: root.path, berthBin: BIN });
  assert.deepEqual(again.kept.sort(), [CONFIG_FILE, '/etc/crictl.yaml'].sort());
  const removed = await uninstall({ root: root.path, berthBin: BIN });
  assert.deepEqual(removed.changed.sort(), [`${UNITS}/${DAEMON_UNIT}`, `${UNITS}/${NODE_UNIT}`, '/etc/crictl.yaml'].sort());
  assert.deepEqual(removed.kept, [CONFIG_FILE]);
  assert.deepEqual(await readdir(path.join(root.path, UNITS)), []);
});
