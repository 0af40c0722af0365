import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { freePort } from '../../../test/support/ports.ts';
import type { Container, LifecycleHandler, Pod } from '../../agent/k8s-types.ts';
import type { EventRecorder } from '../../agent/provider.ts';
import type { RuntimeClient } from '../../cri/cri-client.ts';
import { silentLogger } from '../../util/logger.ts';
import { goQuote, hookFailureMessage, hookUrl, LifecycleHooks } from './lifecycle-hooks.ts';
import { graceAfterPreStop } from './pod-teardown.ts';
import type { ObservedPod } from './runtime-reader.ts';

const container: Container = { name: 'web', image: 'busybox', ports: [{ name: 'http', containerPort: 8080 }] };
const pod = (handlers: { postStart?: LifecycleHandler; preStop?: LifecycleHandler }): Pod => ({
  metadata: { name: 'p', namespace: 'ns', uid: 'u1' },
  spec: { containers: [{ ...container, lifecycle: handlers }], terminationGracePeriodSeconds: 30 },
});
const signal = new AbortController().signal;

function recorder(): EventRecorder & { events: string[] } {
  const events: string[] = [];
  return { events, podEvent: (_pod, type, reason, message, c) => events.push(`${type} ${reason} ${c}: ${message}`) };
}

/** httpGet and sleep hooks never reach the runtime; exec hooks are covered against real runtimes (test/agent). */
const noRuntime = {} as RuntimeClient;

test('the kubelet wording of failed hooks', () => {
  const p = pod({});
  assert.equal(
    hookFailureMessage(
      { exec: { command: ['sh', '-c', 'exit 3'] } },
      p,
      container,
      "command 'sh -c exit 3' exited with 3: oops\n",
      'oops\n',
    ),
    `Exec lifecycle hook ([sh -c exit 3]) for Container "web" in Pod "p_ns(u1)" failed - error: command 'sh -c exit 3' exited with 3: oops\n, message: "oops\\n"`,
  );
  assert.equal(
    hookFailureMessage({ httpGet: { path: '/hook', port: 80 } }, p, container, 'Get "http://10.0.0.1:80/hook": connect ECONNREFUSED'),
    'HTTP lifecycle hook (/hook) for Container "web" in Pod "p_ns(u1)" failed - error: Get "http://10.0.0.1:80/hook": connect ECONNREFUSED',
  );
  assert.equal(
    hookFailureMessage({ sleep: { seconds: 5 } }, p, container, 'container terminated before sleep hook finished'),
    'Sleep lifecycle hook (5) for Container "web" in Pod "p_ns(u1)" failed - error: container terminated before sleep hook finished',
  );
  assert.equal(
    hookFailureMessage({ tcpSocket: { port: 80 } }, p, container, 'invalid handler: x'),
    'Cannot run handler: invalid handler: x',
  );
  assert.equal(goQuote('a"b\\c\n\t\u0001'), '"a\\"b\\\\c\\n\\t\\x01"');
});

test('grace accounting: whole seconds of the preStop hook come out of the grace period, 2 s are always left', () => {
  assert.equal(graceAfterPreStop(30, 0), 30);
  assert.equal(graceAfterPreStop(30, 4.9), 26);
  assert.equal(graceAfterPreStop(5, 3), 2);
  assert.equal(graceAfterPreStop(5, 5), 2);
  assert.equal(graceAfterPreStop(1, 0), 2);
});

test('hook URLs: pod IP, named ports, the default path and scheme, IPv6', () => {
  assert.equal(hookUrl({ port: 'http' }, container, '10.0.0.5').href, 'http://10.0.0.5:8080/');
  assert.equal(hookUrl({ port: 81, path: 'x?y=1', scheme: 'HTTPS' }, container, '10.0.0.5').href, 'https://10.0.0.5:81/x?y=1');
  assert.equal(hookUrl({ port: 81, host: 'example.test', path: '/a' }, container, '10.0.0.5').href, 'http://example.test:81/a');
  assert.equal(hookUrl({ port: 81, path: '/' }, container, 'fd00::5').href, 'http://[fd00::5]:81/');
  assert.throws(() => hookUrl({ port: 'nope' }, container, '10.0.0.5'), /couldn't find port: nope/);
});

test('httpGet hooks: the kubelet headers, any HTTP answer is success, no server is a failure', async () => {
  const seen: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    seen.push(req.headers);
    res.statusCode = req.url === '/fail' ? 500 : 200;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const hooks = new LifecycleHooks({ runtime: noRuntime, logger: silentLogger(), callTimeoutMs: 1000 });
  try {
    const handler: LifecycleHandler = { httpGet: { path: '/start', port, httpHeaders: [{ name: 'X-Hook', value: 'yes' }] } };
    assert.equal(await hooks.run(handler, pod({}), container, 'c1', '127.0.0.1', signal), undefined);
    assert.equal(seen[0]?.['user-agent'], 'kube-lifecycle/1.30');
    assert.equal(seen[0]?.['x-hook'], 'yes');
    assert.equal(await hooks.run({ httpGet: { path: '/fail', port } }, pod({}), container, 'c1', '127.0.0.1', signal), undefined);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  const closed = await freePort();
  const failure = await hooks.run({ httpGet: { path: '/start', port: closed } }, pod({}), container, 'c1', '127.0.0.1', signal);
  assert.match(
    failure ?? '',
    new RegExp(
      `^HTTP lifecycle hook \\(/start\\) for Container "web" in Pod "p_ns\\(u1\\)" failed - error: Get "http://127.0.0.1:${closed}/start": .*ECONNREFUSED`,
    ),
  );
  const noIP = await hooks.run({ httpGet: { path: '/', port: 80 } }, pod({}), container, 'c1', '', signal);
  assert.match(noIP ?? '', /failed to find networking container/);
  const tcp = await hooks.run({ tcpSocket: { port: 80 } }, pod({}), container, 'c1', '127.0.0.1', signal);
  assert.match(tcp ?? '', /^Cannot run handler: invalid handler: tcpSocket/);
});

const runningState = (ips: string[]): ObservedPod => ({
  uid: 'u1',
  name: 'p',
  namespace: 'ns',
  sandboxes: [{ id: 's1', attempt: 0, ready: true, createdAt: 0, ips, hostNetwork: false }],
  containers: [
    {
      id: 'c1',
      sandboxId: 's1',
      name: 'web',
      restartCount: 0,
      state: 'running',
      createdAt: 0,
      startedAt: 0,
      finishedAt: 0,
      exitCode: 0,
      reason: '',
      message: '',
      image: '',
      imageRef: '',
      hash: '',
    },
  ],
});

test('preStop: a sleep within the grace period runs whole; one beyond it is abandoned without a failure event', async () => {
  const events = recorder();
  const hooks = new LifecycleHooks({ runtime: noRuntime, logger: silentLogger(), events, callTimeoutMs: 1000 });
  const short = hooks.preStopRunner(pod({ preStop: { sleep: { seconds: 1 } } }), runningState([]));
  // The runner answers the whole seconds the hook took: all of the short sleep, the grace period of the long one.
  assert.equal(await short({ id: 'c1', name: 'web' }, 5, signal), 1);
  const long = hooks.preStopRunner(pod({ preStop: { sleep: { seconds: 20 } } }), runningState([]));
  assert.equal(await long({ id: 'c1', name: 'web' }, 1, signal), 1, 'cut short at the grace period');
  assert.deepEqual(events.events, []);
});

test('preStop: skipped for containers that are not running or have no hook; a failure is an event and the stop goes on', async () => {
  const events = recorder();
  const hooks = new LifecycleHooks({ runtime: noRuntime, logger: silentLogger(), events, callTimeoutMs: 1000 });
  const exited = runningState([]);
  exited.containers[0]!.state = 'exited';
  assert.equal(await hooks.preStopRunner(pod({ preStop: { sleep: { seconds: 3 } } }), exited)({ id: 'c1', name: 'web' }, 5, signal), 0);
  assert.equal(await hooks.preStopRunner(pod({}), runningState([]))({ id: 'c1', name: 'web' }, 5, signal), 0);
  const closed = await freePort();
  const failing = hooks.preStopRunner(pod({ preStop: { httpGet: { path: '/stop', port: closed } } }), runningState(['127.0.0.1']));
  assert.equal(await failing({ id: 'c1', name: 'web' }, 5, signal), 0);
  assert.deepEqual(events.events, ['Warning FailedPreStopHook web: PreStopHook failed']);
});

test('postStart: a running hook hides the container; success reports nothing', async () => {
  const hooks = new LifecycleHooks({ runtime: noRuntime, logger: silentLogger(), callTimeoutMs: 1000 });
  const p = pod({ postStart: { sleep: { seconds: 1 } } });
  const running = hooks.postStart(p, p.spec.containers[0]!, 'c9', [], 30, signal);
  assert.equal(hooks.isStarting('c9'), true);
  assert.equal(await running, undefined);
  assert.equal(hooks.isStarting('c9'), false);
  assert.equal(await hooks.postStart(pod({}), container, 'c9', [], 30, signal), undefined);
});

test('httpGet hooks of host-network pods go to the node', () => {
  const hooks = new LifecycleHooks({ runtime: noRuntime, logger: silentLogger(), nodeIP: '192.0.2.7', callTimeoutMs: 1000 });
  const host = pod({});
  host.spec.hostNetwork = true;
  assert.equal(hooks.hookHost(host, []), '192.0.2.7');
  assert.equal(hooks.hookHost(pod({}), ['10.1.0.4']), '10.1.0.4');
  assert.equal(hooks.hookHost(pod({}), []), '');
});
