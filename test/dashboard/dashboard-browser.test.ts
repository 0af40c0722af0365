// The node dashboard in a real browser (Debian's Chromium driven by playwright-core) against berth
// node running real pods on berth daemon (pods on 10.158.0.0/24): the pod list is what `berth get
// pods` prints, a crashing pod shows its restarts and back-off, logs stream in, a chart has
// points, a deleted pod leaves the page. Screenshots of the main views go to test-results/.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { type Browser, chromium, type Page } from 'playwright-core';
import { NodeEventLog } from '../../src/agent/event-log.ts';
import type { RunningNode } from '../../src/agent/node.ts';
import { runNode } from '../../src/agent/node.ts';
import type { PodProvider } from '../../src/agent/provider.ts';
import { loadProvider } from '../../src/providers/load-provider.ts';
import { startBerthRuntime } from '../agent/support/berth-runtime.ts';
import { OPEN_ACCESS } from '../agent/support/node-api.ts';
import { BERTH, makeNodeDirs, removeDir, startRuntimeWithRegistry, stopNodeStack, testLogger } from '../agent/support/node-harness.ts';
import type { RuntimeUnderTest } from '../agent/support/runtime-under-test.ts';
import { waitFor } from '../agent/support/wait-for.ts';
import type { TestRegistry } from '../support/registry.ts';

const run = promisify(execFile);
// Static pods get the node's name appended, as on a kubelet.
const SUBNET = '10.158.0.0/24';
const SHOTS = path.resolve(import.meta.dirname, '../../test-results');
const ASSETS = path.resolve(import.meta.dirname, '../../web/dist/index.html');

const WEB = `apiVersion: v1
kind: Pod
metadata: {name: web, namespace: default}
spec:
  containers:
  - name: ticker
    image: busybox:1.36
    command: [sh, -c, 'i=0; while :; do i=$((i+1)); echo "tick $i"; head -c 2000000 /dev/zero | md5sum >/dev/null; sleep 0.5; done']
    readinessProbe: {exec: {command: ["true"]}, periodSeconds: 2}
`;
const CRASH = `apiVersion: v1
kind: Pod
metadata: {name: crash, namespace: default}
spec:
  containers:
  - name: fail
    image: busybox:1.36
    command: [sh, -c, 'echo "going down"; exit 3']
`;

let registry: TestRegistry | undefined;
let runtime: RuntimeUnderTest | undefined;
let provider: PodProvider | undefined;
let node: RunningNode | undefined;
let dir: string | undefined;
let manifestDir = '';
let browser: Browser | undefined;
let page: Page;
let base = '';
/** What the page threw or logged as an error: none is expected. */
const pageErrors: string[] = [];

/** "3 (31s ago)" and "3 (30s ago)" read a second apart are the same restarts. */
const withoutAgo = (text: string) => text.replace(/ \([^)]* ago\)$/, '');

/** The NAME, READY, STATUS and RESTARTS columns of `berth get pods` (AGE moves on), cut where the header's columns start. */
async function cliRows(): Promise<string[]> {
  const { stdout } = await run(BERTH, ['get', 'pods', '--node-api', base]);
  const [header, ...lines] = stdout.trimEnd().split('\n');
  const starts = ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE'].map((c) => header!.indexOf(c));
  return lines
    .map((line) =>
      starts
        .slice(0, 4)
        .map((at, i) => withoutAgo(line.slice(at, starts[i + 1]).trim()))
        .join(' '),
    )
    .sort();
}

async function pageRows(): Promise<string[]> {
  const rows = await page
    .locator('[data-testid=pod-list] tbody tr[data-pod]')
    .evaluateAll((trs) =>
      trs.map((tr) =>
        ['.name', '[data-col=ready]', '[data-col=status]', '[data-col=restarts]'].map(
          (s) => tr.querySelector(s)?.textContent?.trim() ?? '',
        ),
      ),
    );
  return rows.map((cells) => cells.map(withoutAgo).join(' ')).sort();
}

async function shot(name: string): Promise<void> {
  await mkdir(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `dashboard-${name}.png`), fullPage: true });
}

describe('node dashboard in Chromium', () => {
  before(async () => {
    assert.ok(existsSync(ASSETS), 'web/dist is not built: scripts/install.sh builds it (vite build)');
    ({ registry, runtime } = await startRuntimeWithRegistry(startBerthRuntime, { subnet: SUBNET }));
    ({ dir, manifestDir } = await makeNodeDirs('berth-dashboard-'));
    const events = new NodeEventLog({ nodeName: 'dash-node', logger: testLogger });
    provider = await loadProvider('cri', {
      nodeName: 'dash-node',
      nodeIP: '127.0.0.1',
      logger: testLogger,
      signal: new AbortController().signal,
      events,
      config: {
        runtimeEndpoint: runtime.endpoint,
        podLogsDir: path.join(dir, 'pod-logs'),
        rootDir: path.join(dir, 'node-root'),
        ...runtime.providerConfig,
      },
    });
    node = await runNode({
      nodeName: 'dash-node',
      nodeIP: '127.0.0.1',
      provider,
      logger: testLogger,
      manifestDir,
      events,
      recentEvents: (filter) => events.list(filter),
      // Anyone on loopback may call this test node's port: the test is about the page, not who may see it.
      api: [{ port: 0, access: OPEN_ACCESS }],
      timings: { relistMs: 500, manifestScanMs: 300, retryBaseMs: 500, dashboardSampleMs: 1000 },
    });
    base = `http://127.0.0.1:${node.apiListening[0]!.port}`;
    await writeFile(path.join(manifestDir, 'web.yaml'), WEB);
    await writeFile(path.join(manifestDir, 'crash.yaml'), CRASH);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text());
    });
    await page.goto(`${base}/dashboard/`);
  });

  after(async () => {
    if (page) await shot('last').catch(() => undefined);
    await browser?.close();
    await stopNodeStack({ node, provider, runtime, registry });
    await removeDir(dir);
  });

  test('the node panel and the pod list are what berth get pods says', async () => {
    await page.locator('[data-testid=node-ready]', { hasText: 'Ready' }).waitFor({ timeout: 120_000 });
    await page.locator('tr[data-pod=web-dash-node] [data-col=status]', { hasText: 'Running' }).waitFor({ timeout: 120_000 });
    await page.locator('tr[data-pod=crash-dash-node]').waitFor({ timeout: 120_000 });
    // Both read the same node; the page updates every second, so they agree within a few.
    let last = '';
    await waitFor(
      'the page to list what berth get pods lists',
      async () => {
        const [cli, shown] = [await cliRows(), await pageRows()];
        last = `berth get pods: ${JSON.stringify(cli)}\npage: ${JSON.stringify(shown)}`;
        return JSON.stringify(cli) === JSON.stringify(shown) && cli.length === 2 ? cli : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500, describe: () => last },
    );
    assert.match(await page.locator('[data-testid=node]').innerText(), /berth:\/\//);
    await shot('pods');
  });

  test('a crashing pod shows its restarts and back-off', async () => {
    await page.locator('tr[data-pod=crash-dash-node]').click();
    const restarts = page.locator('[data-testid=containers] tr[data-container=fail] [data-col=restarts]');
    await waitFor('two restarts on the page', async () => (Number(await restarts.innerText()) >= 2 ? true : undefined), {
      timeoutMs: 120_000,
    });
    await page.locator('[data-testid=containers] tr[data-container=fail]', { hasText: /CrashLoopBackOff|Error/ }).waitFor();
    await page.locator('tr[data-pod=crash-dash-node] [data-col=status]', { hasText: 'CrashLoopBackOff' }).waitFor({ timeout: 120_000 });
    await page.locator('[data-tab=events]').click();
    await page.locator('[data-testid=events]', { hasText: 'BackOff' }).waitFor({ timeout: 60_000 });
    await shot('crashing-pod');
  });

  test('logs stream in, and a chart has points', async () => {
    await page.locator('tr[data-pod=web-dash-node]').click();
    await page.locator('[data-tab=logs]').click();
    const log = page.locator('[data-testid=log-text]');
    await log.filter({ hasText: /tick \d+/ }).waitFor({ timeout: 60_000 });
    const last = async () => Math.max(...[...(await log.innerText()).matchAll(/tick (\d+)/g)].map((m) => Number(m[1])));
    const first = await last();
    await waitFor('a newer line to stream in', async () => ((await last()) > first ? true : undefined), { timeoutMs: 60_000 });
    await shot('logs');
    await page.locator('[data-tab=metrics]').click();
    const cpu = page.locator('[data-testid=chart-cpu]');
    await waitFor('three points on the CPU chart', async () => (Number(await cpu.getAttribute('data-points')) >= 3 ? true : undefined), {
      timeoutMs: 60_000,
    });
    await shot('charts');
    assert.ok((await page.locator('[data-testid=chart-memory] canvas').count()) > 0, 'no memory chart drawn');
    await page.locator('[data-tab=yaml]').click();
    assert.match(await page.locator('[data-testid=pod-yaml]').innerText(), /name: ticker/);
  });

  test('a deleted pod leaves the page', async () => {
    await unlink(path.join(manifestDir, 'crash.yaml'));
    await page.locator('tr[data-pod=crash-dash-node]').waitFor({ state: 'detached', timeout: 120_000 });
    assert.deepEqual(
      await pageRows(),
      (await cliRows()).filter((r) => r.startsWith('web-dash-node ')),
    );
    await page.locator('tr[data-pod=web-dash-node]').click();
    await shot('after-delete');
  });

  test('the page logged no error', () => {
    assert.deepEqual(pageErrors, []);
  });
});
