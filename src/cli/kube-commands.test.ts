import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import type { ContainerStatus, Pod } from '../agent/k8s-types.ts';
import { nodeApiUrl } from './kube/node-api-client.ts';
import { describePod, describeProbe } from './kube/pod-describer.ts';
import { podRow, podTable } from './kube/pod-printer.ts';
import { logsContainer } from './kube-commands.ts';
import { shortDuration } from './output/human.ts';
import { tabwrite } from './output/tabwriter.ts';
import { rfc1123z } from './output/times.ts';

const run = promisify(execFile);
const BERTH = path.resolve(import.meta.dirname, '..', '..', 'bin', 'berth');
const NOW = Date.parse('2026-01-10T12:00:00Z');
const ago = (seconds: number) => new Date(NOW - seconds * 1000).toISOString().replace(/\.\d+Z$/, 'Z');

function status(name: string, state: ContainerStatus['state'], extra: Partial<ContainerStatus> = {}): ContainerStatus {
  return { name, state, lastState: {}, ready: false, restartCount: 0, image: 'busybox:1.36', imageID: '', ...extra };
}

const pick = (row: { status: string; ready: string; restarts: string }) => [row.status, row.ready, row.restarts];

function pod(name: string, extra: { spec?: Partial<Pod['spec']>; status?: Pod['status']; created?: number } = {}): Pod {
  return {
    metadata: { name, namespace: 'default', uid: `uid-${name}`, creationTimestamp: ago(extra.created ?? 300) },
    spec: { containers: [{ name: 'main', image: 'busybox:1.36' }], nodeName: 'node1', ...extra.spec },
    status: extra.status ?? { phase: 'Pending' },
  };
}

test("Go's tabwriter: a column is as wide as its widest cell in a run of lines that have it, plus padding", () => {
  assert.equal(tabwrite('a\tbb\tc\nccc\td\te\n', { minWidth: 0, padding: 2 }), 'a    bb  c\nccc  d   e\n');
  // A line without the column ends the run: the next run aligns on its own.
  assert.equal(
    tabwrite('Name:\tx\nContainers:\n  long-name:\ty\n  s:\tz\nQoS:\tq\n', { minWidth: 0, padding: 2 }),
    'Name:  x\nContainers:\n  long-name:  y\n  s:          z\nQoS:          q\n',
  );
  assert.equal(tabwrite('NAME\tREADY\nx\t1/1\n', { minWidth: 6, padding: 3 }), 'NAME   READY\nx      1/1\n');
  // An empty first cell keeps the column (continuation lines of Labels:).
  assert.equal(tabwrite('Labels:\ta=b\n\tc=d\n', { minWidth: 0, padding: 2 }), 'Labels:  a=b\n         c=d\n');
});

test('human durations as kubectl prints ages', () => {
  const s = 1000;
  assert.deepEqual(
    [0, 59, 119, 120, 125, 600, 3600, 3660, 8 * 3600, 49 * 3600, 9 * 86400, 800 * 86400, 3000 * 86400].map((n) => shortDuration(n * s)),
    ['0s', '59s', '119s', '2m', '2m5s', '10m', '60m', '61m', '8h', '2d1h', '9d', '2y70d', '8y'],
  );
  assert.equal(shortDuration(-1500), '0s');
  assert.equal(shortDuration(-5000), '<invalid>');
});

test('RFC 1123 times with a numeric zone, as describe prints them', () => {
  assert.match(rfc1123z('2026-01-10T12:00:00Z'), /^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} 2026 \d\d:\d\d:\d\d [+-]\d{4}$/);
  assert.equal(rfc1123z(undefined), '');
});

test('pod status column: phases, waiting and terminated reasons, init progress, restarts', () => {
  const running = pod('web', {
    status: {
      phase: 'Running',
      podIP: '10.94.0.5',
      podIPs: [{ ip: '10.94.0.5' }],
      containerStatuses: [
        status(
          'main',
          { running: { startedAt: ago(60) } },
          { ready: true, restartCount: 1, lastState: { terminated: { exitCode: 137, finishedAt: ago(61) } } },
        ),
      ],
    },
  });
  assert.deepEqual(podRow(running, NOW), {
    name: 'web',
    ready: '1/1',
    status: 'Running',
    restarts: '1 (61s ago)',
    age: '5m',
    ip: '10.94.0.5',
    node: 'node1',
  });
  const looping = pod('crasher', {
    status: {
      phase: 'Running',
      containerStatuses: [
        status(
          'main',
          { waiting: { reason: 'CrashLoopBackOff' } },
          { restartCount: 3, lastState: { terminated: { exitCode: 3, finishedAt: ago(12) } } },
        ),
      ],
    },
  });
  assert.deepEqual(
    [podRow(looping, NOW).status, podRow(looping, NOW).restarts, podRow(looping, NOW).ip],
    ['CrashLoopBackOff', '3 (12s ago)', '<none>'],
  );
  const init = (initStatuses: ContainerStatus[]) =>
    podRow(
      pod('job', {
        spec: { initContainers: [{ name: 'a' }, { name: 'b' }] },
        status: {
          phase: 'Pending',
          initContainerStatuses: initStatuses,
          containerStatuses: [status('main', { waiting: { reason: 'PodInitializing' } })],
        },
      }),
      NOW,
    ).status;
  assert.equal(
    init([status('a', { waiting: { reason: 'PodInitializing' } }), status('b', { waiting: { reason: 'PodInitializing' } })]),
    'Init:0/2',
  );
  assert.equal(init([status('a', { terminated: { exitCode: 0 } }), status('b', { running: {} })]), 'Init:1/2');
  assert.equal(init([status('a', { waiting: { reason: 'CrashLoopBackOff' } }), status('b', { waiting: {} })]), 'Init:CrashLoopBackOff');
  assert.equal(init([status('a', { terminated: { exitCode: 2 } }), status('b', { waiting: {} })]), 'Init:ExitCode:2');
  assert.equal(init([status('a', { terminated: { exitCode: 1, reason: 'Error' } }), status('b', { waiting: {} })]), 'Init:Error');
  const completed = pod('job', {
    status: { phase: 'Succeeded', containerStatuses: [status('main', { terminated: { exitCode: 0, reason: 'Completed' } })] },
  });
  assert.deepEqual([podRow(completed, NOW).status, podRow(completed, NOW).ready], ['Completed', '0/1']);
  const terminating = pod('web', { status: { phase: 'Running', containerStatuses: [status('main', { running: {} }, { ready: true })] } });
  terminating.metadata.deletionTimestamp = ago(1);
  assert.equal(podRow(terminating, NOW).status, 'Terminating');
  const creating = pod('new', {
    status: { phase: 'Pending', containerStatuses: [status('main', { waiting: { reason: 'ContainerCreating' } })] },
  });
  assert.equal(podRow(creating, NOW).status, 'ContainerCreating');
  // Sidecars (restartable init containers): counted as containers once started, their restarts shown after initialisation.
  const withSidecar = (sidecar: ContainerStatus, initialized: boolean, main: ContainerStatus) =>
    podRow(
      pod('web', {
        spec: { initContainers: [{ name: 'prepare' }, { name: 'proxy', restartPolicy: 'Always' }] },
        status: {
          phase: initialized ? 'Running' : 'Pending',
          conditions: [
            { type: 'Initialized', status: initialized ? 'True' : 'False' },
            { type: 'Ready', status: initialized && main.ready && sidecar.ready ? 'True' : 'False' },
          ],
          initContainerStatuses: [status('prepare', { terminated: { exitCode: 0, reason: 'Completed' } }), sidecar],
          containerStatuses: [main],
        },
      }),
      NOW,
    );
  const runningMain = status('main', { running: {} }, { ready: true, started: true });
  assert.deepEqual(pick(withSidecar(status('proxy', { running: {} }, { ready: true, started: true }), true, runningMain)), [
    'Running',
    '2/2',
    '0',
  ]);
  assert.deepEqual(
    pick(
      withSidecar(status('proxy', { running: {} }, { started: false }), false, status('main', { waiting: { reason: 'PodInitializing' } })),
    ),
    ['Init:1/2', '0/2', '0'],
  );
  const restarted = status(
    'proxy',
    { running: {} },
    { ready: false, started: true, restartCount: 2, lastState: { terminated: { exitCode: 1, finishedAt: ago(20) } } },
  );
  assert.deepEqual(pick(withSidecar(restarted, true, runningMain)), ['Running', '1/2', '2 (20s ago)']);
  const staticPod = pod('static', { status: { phase: 'Pending' } });
  delete staticPod.metadata.creationTimestamp;
  staticPod.metadata.annotations = { 'kubernetes.io/config.seen': ago(30) };
  assert.equal(podRow(staticPod, NOW).age, '30s', 'static pods: when the node first saw them');
});

test('the get pods table, laid out as kubectl lays it out', () => {
  const pods = [
    pod('crasher-node1', {
      status: {
        phase: 'Running',
        podIPs: [{ ip: '10.94.0.7' }],
        containerStatuses: [
          status(
            'main',
            { waiting: { reason: 'CrashLoopBackOff' } },
            { restartCount: 3, lastState: { terminated: { exitCode: 3, finishedAt: ago(12) } } },
          ),
        ],
      },
    }),
    pod('web-node1', {
      created: 7200,
      status: { phase: 'Running', podIPs: [{ ip: '10.94.0.5' }], containerStatuses: [status('main', { running: {} }, { ready: true })] },
    }),
  ];
  assert.equal(
    podTable(pods, { now: NOW }),
    [
      'NAME            READY   STATUS             RESTARTS      AGE    IP',
      'crasher-node1   0/1     CrashLoopBackOff   3 (12s ago)   5m     10.94.0.7',
      'web-node1       1/1     Running            0             120m   10.94.0.5',
      '',
    ].join('\n'),
  );
  assert.equal(
    podTable([pods[1]!], { now: NOW, wide: true, allNamespaces: true }),
    [
      'NAMESPACE   NAME        READY   STATUS    RESTARTS   AGE    IP          NODE    NOMINATED NODE   READINESS GATES',
      'default     web-node1   1/1     Running   0          120m   10.94.0.5   node1   <none>           <none>',
      '',
    ].join('\n'),
  );
});

test('probes as describe prints them', () => {
  assert.equal(
    describeProbe({ httpGet: { path: '/index.html', port: 'http' }, periodSeconds: 1 }),
    'http-get http://:http/index.html delay=0s timeout=1s period=1s #success=1 #failure=3',
  );
  assert.equal(
    describeProbe({ exec: { command: ['test', '-f', '/x'] }, failureThreshold: 2, periodSeconds: 1 }),
    'exec [test -f /x] delay=0s timeout=1s period=1s #success=1 #failure=2',
  );
  assert.equal(
    describeProbe({ tcpSocket: { port: 8080 }, initialDelaySeconds: 3 }),
    'tcp-socket :8080 delay=3s timeout=1s period=10s #success=1 #failure=3',
  );
});

test('describe pod', () => {
  const p: Pod = {
    metadata: {
      name: 'web-node1',
      namespace: 'default',
      uid: 'u1',
      labels: { app: 'web', tier: 'front' },
      annotations: { 'kubernetes.io/config.source': 'file' },
    },
    spec: {
      nodeName: 'node1',
      containers: [
        {
          name: 'httpd',
          image: 'busybox:1.36',
          command: ['sh', '-c', 'exec httpd -f'],
          ports: [{ containerPort: 8080, hostPort: 31000, protocol: 'TCP' }],
          readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
          envFrom: [{ configMapRef: { name: 'settings' } }, { secretRef: { name: 'creds', optional: true }, prefix: 'DB_' }],
          env: [
            { name: 'GREETING', value: 'hello' },
            { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
            { name: 'CPU', valueFrom: { resourceFieldRef: { resource: 'limits.cpu' } } },
          ],
          resources: { limits: { memory: '64Mi' } },
        },
      ],
      tolerations: [{ operator: 'Exists', effect: 'NoExecute' }],
    },
    status: {
      phase: 'Running',
      hostIP: '127.0.0.1',
      podIP: '10.94.0.5',
      podIPs: [{ ip: '10.94.0.5' }],
      qosClass: 'Burstable',
      conditions: [
        { type: 'Initialized', status: 'True' },
        { type: 'ContainersReady', status: 'True' },
      ],
      containerStatuses: [
        status(
          'httpd',
          { running: { startedAt: ago(60) } },
          {
            ready: true,
            restartCount: 1,
            containerID: 'berth://abc',
            imageID: 'sha256:def',
            lastState: { terminated: { exitCode: 137, reason: 'Error', startedAt: ago(120), finishedAt: ago(61) } },
          },
        ),
      ],
    },
  };
  const text = describePod(p, NOW);
  const time = (s: number) => rfc1123z(ago(s));
  assert.equal(
    text,
    [
      'Name:         web-node1',
      'Namespace:    default',
      'Node:         node1/127.0.0.1',
      'Labels:       app=web',
      '              tier=front',
      'Annotations:  kubernetes.io/config.source: file',
      'Status:       Running',
      'IP:           10.94.0.5',
      'IPs:',
      '  IP:  10.94.0.5',
      'Containers:',
      '  httpd:',
      '    Container ID:  berth://abc',
      '    Image:         busybox:1.36',
      '    Image ID:      sha256:def',
      '    Port:          8080/TCP',
      '    Host Port:     31000/TCP',
      '    Command:',
      '      sh',
      '      -c',
      '      exec httpd -f',
      '    State:          Running',
      `      Started:      ${time(60)}`,
      '    Last State:     Terminated',
      '      Reason:       Error',
      '      Exit Code:    137',
      `      Started:      ${time(120)}`,
      `      Finished:     ${time(61)}`,
      '    Ready:          True',
      '    Restart Count:  1',
      '    Limits:',
      '      memory:   64Mi',
      '    Readiness:  http-get http://:8080/ delay=0s timeout=1s period=1s #success=1 #failure=3',
      '    Environment Variables from:',
      '      settings  ConfigMap                 Optional: false',
      "      creds     Secret with prefix 'DB_'  Optional: true",
      '    Environment:',
      '      GREETING:  hello',
      '      POD:       web-node1 (v1:metadata.name)',
      '      MEM:       64 (limits.memory)',
      '      CPU:       node allocatable (limits.cpu)',
      '    Mounts:      <none>',
      'Conditions:',
      '  Type              Status',
      '  Initialized       True ',
      '  ContainersReady   True ',
      'Volumes:            <none>',
      'QoS Class:          Burstable',
      'Node-Selectors:     <none>',
      'Tolerations:        :NoExecute op=Exists',
      '',
    ].join('\n'),
  );
});

test('logs picks -c, else the only container, else the first with a notice', () => {
  const two = pod('p', { spec: { containers: [{ name: 'a' }, { name: 'b' }], initContainers: [{ name: 'i' }] } });
  assert.deepEqual(logsContainer(two, 'b'), { name: 'b' });
  assert.deepEqual(logsContainer(two, 'i'), { name: 'i' });
  assert.deepEqual(logsContainer(two, undefined), { name: 'a', notice: 'Defaulted container "a" out of: a, b, i (init)\n' });
  assert.deepEqual(logsContainer(pod('q'), undefined), { name: 'main' });
  assert.throws(() => logsContainer(two, 'nope'), /container nope is not valid for pod p/);
});

test('the node API address: flag, then BERTH_NODE_API, then the root-only socket', () => {
  assert.equal(nodeApiUrl(undefined, {}), 'unix:///var/lib/berth/node/node.sock');
  assert.equal(nodeApiUrl(undefined, { BERTH_NODE_API: 'http://10.0.0.1:10255/' }), 'http://10.0.0.1:10255');
  assert.equal(nodeApiUrl('http://127.0.0.1:1', { BERTH_NODE_API: 'http://x:2' }), 'http://127.0.0.1:1');
  assert.equal(nodeApiUrl('unix:///run/x.sock', {}), 'unix:///run/x.sock');
  assert.throws(() => nodeApiUrl('ftp://x/', {}), /must be unix:\/\/, https:\/\/ or http:\/\//);
});

test('berth get, describe and logs pod/NAME against a node API', async () => {
  const seen: string[] = [];
  const list = {
    apiVersion: 'v1',
    kind: 'PodList',
    metadata: {},
    items: [
      pod('web-node1', {
        status: { phase: 'Running', podIPs: [{ ip: '10.94.0.5' }], containerStatuses: [status('main', { running: {} }, { ready: true })] },
      }),
    ],
  };
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    if (req.url === '/pods') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(list));
    } else if (req.url?.startsWith('/containerLogs/default/web-node1/main')) {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('line one\nline two\n');
    } else {
      res.writeHead(404);
      res.end('404 page not found\n');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    const env = { ...process.env, BERTH_NODE_API: url };
    const get = await run(BERTH, ['get', 'pods'], { env });
    assert.match(
      get.stdout,
      /^NAME {8}READY {3}STATUS {4}RESTARTS {3}AGE\s+IP\nweb-node1 {3}1\/1 {5}Running {3}0 {10}\w+\s+10\.94\.0\.5\n$/,
    );
    const name = await run(BERTH, ['get', 'pods', '-o', 'name', '--node-api', url], {
      env: { ...process.env, BERTH_NODE_API: 'http://127.0.0.1:1' },
    });
    assert.equal(name.stdout, 'pod/web-node1\n');
    const json = JSON.parse((await run(BERTH, ['get', 'pod', 'web-node1', '-o', 'json'], { env })).stdout) as Pod;
    assert.equal(json.metadata.name, 'web-node1');
    const empty = await run(BERTH, ['get', 'pods', '-n', 'other'], { env });
    assert.deepEqual([empty.stdout, empty.stderr], ['', 'No resources found in other namespace.\n']);
    const missing = await run(BERTH, ['get', 'pods', 'nope'], { env }).catch((e: { code: number; stderr: string }) => e);
    assert.equal((missing as { code: number }).code, 1);
    assert.match((missing as { stderr: string }).stderr, /pods "nope" not found/);
    const described = await run(BERTH, ['describe', 'pod', 'web'], { env });
    assert.match(described.stdout, /^Name: {9}web-node1\nNamespace: {4}default\n/);
    const logs = await run(BERTH, ['logs', 'pod/web-node1', '--tail', '5', '--timestamps'], { env });
    assert.equal(logs.stdout, 'line one\nline two\n');
    assert.ok(seen.includes('/containerLogs/default/web-node1/main?timestamps=true&tailLines=5'), seen.join(' '));
    const down = await run(BERTH, ['get', 'pods', '--node-api', 'http://127.0.0.1:1'], { env }).catch((e: { stderr: string }) => e);
    assert.match((down as { stderr: string }).stderr, /cannot reach the node API at http:\/\/127\.0\.0\.1:1/);
  } finally {
    server.close();
  }
});
