import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ManifestResult, parseStaticPodManifest } from './static-pod-manifest.ts';
import { staticPodUid } from './static-pod-uid.ts';

const context = { path: '/etc/berth/manifests/web.yaml', nodeName: 'Node-A' };

const web = `
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
    - name: app
      image: busybox:1.36
      command: [sleep, "3600"]
      ports: [{containerPort: 8080, hostPort: 18080}]
`;

function ok(result: ManifestResult) {
  if (!result.ok) assert.fail(`expected a pod, got: ${result.errors.join('; ')}`);
  return result;
}

function errors(result: ManifestResult): string[] {
  if (result.ok) assert.fail('expected errors');
  return result.errors;
}

test('a valid manifest becomes a static pod with the kubelet defaults', () => {
  const { pod, warnings } = ok(parseStaticPodManifest(web, context));
  assert.deepEqual(warnings, []);
  assert.equal(pod.metadata.name, 'web-node-a');
  assert.equal(pod.metadata.namespace, 'default');
  assert.match(pod.metadata.uid!, /^[0-9a-f]{32}$/);
  assert.equal(pod.metadata.annotations!['kubernetes.io/config.hash'], pod.metadata.uid);
  assert.equal(pod.metadata.annotations!['kubernetes.io/config.source'], 'file');
  assert.equal(pod.spec.nodeName, 'Node-A');
  assert.equal(pod.spec.restartPolicy, 'Always');
  assert.deepEqual(pod.spec.tolerations, [{ operator: 'Exists', effect: 'NoExecute' }]);
  assert.equal(pod.spec.containers[0]!.imagePullPolicy, 'IfNotPresent');
  assert.equal(pod.status?.phase, 'Pending');
});

test('the same content as JSON gives the same pod and UID', () => {
  const json = JSON.stringify({
    kind: 'Pod',
    apiVersion: 'v1',
    spec: {
      containers: [{ image: 'busybox:1.36', name: 'app', command: ['sleep', '3600'], ports: [{ hostPort: 18080, containerPort: 8080 }] }],
    },
    metadata: { labels: { app: 'web' }, name: 'web' },
  });
  assert.equal(ok(parseStaticPodManifest(json, context)).pod.metadata.uid, ok(parseStaticPodManifest(web, context)).pod.metadata.uid);
});

test('the UID follows content, node and path, not formatting', () => {
  const base = ok(parseStaticPodManifest(web, context)).pod.metadata.uid;
  assert.equal(ok(parseStaticPodManifest(`# a comment\n${web}\n\n`, context)).pod.metadata.uid, base);
  assert.notEqual(ok(parseStaticPodManifest(web.replace('3600', '3601'), context)).pod.metadata.uid, base);
  assert.notEqual(ok(parseStaticPodManifest(web, { ...context, nodeName: 'node-b' })).pod.metadata.uid, base);
  assert.notEqual(ok(parseStaticPodManifest(web, { ...context, path: '/other.yaml' })).pod.metadata.uid, base);
  assert.equal(staticPodUid({ b: 1, a: [1, { d: 2, c: 3 }] }, 'n', 'p'), staticPodUid({ a: [1, { c: 3, d: 2 }], b: 1 }, 'n', 'p'));
});

test('a UID written in the manifest is kept', () => {
  const withUid = web.replace('  name: web', '  name: web\n  uid: 11111111-2222-3333-4444-555555555555');
  assert.equal(ok(parseStaticPodManifest(withUid, context)).pod.metadata.uid, '11111111-2222-3333-4444-555555555555');
});

test('invalid YAML says where', () => {
  const [error] = errors(parseStaticPodManifest('apiVersion: v1\nkind: Pod\nmetadata: {name: x\n', context));
  assert.match(error!, /^invalid YAML: .*line \d+, column \d+/);
  assert.match(errors(parseStaticPodManifest('{"kind": "Pod",', context))[0]!, /^invalid JSON/);
  assert.match(errors(parseStaticPodManifest('a: 1\na: 2\n', context))[0]!, /unique/);
});

test('an empty file, a list, two documents and other kinds are refused', () => {
  assert.deepEqual(errors(parseStaticPodManifest('', context)), ['the file holds no Pod']);
  assert.deepEqual(errors(parseStaticPodManifest('- 1\n', context)), ['expected a Pod object (apiVersion: v1, kind: Pod)']);
  assert.match(errors(parseStaticPodManifest(`${web}\n---\n${web}`, context))[0]!, /expected one Pod, found 2/);
  assert.match(
    errors(parseStaticPodManifest(web.replace('kind: Pod', 'kind: Deployment'), context))[0]!,
    /^kind: Invalid value: "Deployment"/,
  );
});

test('a missing image and duplicate container names are reported with their paths', () => {
  const bad = `
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  initContainers: [{name: app, image: busybox:1.36}]
  containers:
    - name: app
      image: busybox:1.36
    - name: side
`;
  assert.deepEqual(errors(parseStaticPodManifest(bad, context)), [
    'spec.containers[0].name: Duplicate value: "app"',
    'spec.containers[1].image: Required value',
  ]);
});

test('wrong types are errors, unknown fields are warnings', () => {
  const typo = web
    .replace('image: busybox:1.36', 'image: busybox:1.36\n      imagePullPolcy: Always\n      restartCount: 3')
    .replace('labels:', 'lables:');
  const { warnings } = ok(parseStaticPodManifest(typo, context));
  assert.deepEqual(warnings, [
    'unknown field "metadata.lables"',
    'unknown field "spec.containers[0].imagePullPolcy"',
    'unknown field "spec.containers[0].restartCount"',
  ]);
  const wrong = web.replace('containerPort: 8080', 'containerPort: eighty');
  assert.deepEqual(errors(parseStaticPodManifest(wrong, context)), [
    'spec.containers[0].ports[0].containerPort: Invalid value: "eighty": must be an integer',
  ]);
});

test('probe, policy and port checks', () => {
  const bad = `
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  restartPolicy: Sometimes
  containers:
    - name: a
      image: i:1
      ports: [{containerPort: 70000}]
      livenessProbe: {periodSeconds: 5}
      readinessProbe: {exec: {command: [cat, /tmp/ready]}, tcpSocket: {port: 80}}
`;
  assert.deepEqual(errors(parseStaticPodManifest(bad, context)), [
    'spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive',
    'spec.containers[0].livenessProbe: Required value: must specify a handler type',
    'spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type',
    'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
  ]);
});
