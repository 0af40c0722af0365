import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Pod, PodSpec } from '../k8s-types.ts';
import { LABEL_MESSAGE } from './dns-names.ts';
import { validatePod } from './pod-validation.ts';
import { parseStaticPodManifest } from './static-pod-manifest.ts';
import { validateVolumes } from './volume-validation.ts';

const spec = (s: Partial<PodSpec>): PodSpec => ({ containers: [{ name: 'c', image: 'busybox' }], ...s });

test('supported volumes and their mounts pass', () => {
  const pod: Pod = {
    metadata: { name: 'ok' },
    spec: spec({
      volumes: [
        { name: 'scratch', emptyDir: { medium: 'Memory', sizeLimit: '64Mi' } },
        { name: 'host', hostPath: { path: '/var/log', type: 'Directory' } },
        {
          name: 'config',
          configMap: { name: 'app-config', defaultMode: 0o440, items: [{ key: 'app.conf', path: 'conf/app.conf', mode: 0o400 }] },
        },
        { name: 'creds', secret: { secretName: 'app-creds', optional: true } },
        {
          name: 'info',
          downwardAPI: {
            items: [
              { path: 'labels', fieldRef: { fieldPath: 'metadata.labels' } },
              { path: 'tier', fieldRef: { fieldPath: "metadata.labels['tier']" } },
              { path: 'mem', resourceFieldRef: { containerName: 'c', resource: 'limits.memory' } },
            ],
          },
        },
      ],
      containers: [
        {
          name: 'c',
          image: 'busybox',
          volumeMounts: [
            { name: 'scratch', mountPath: '/scratch' },
            { name: 'host', mountPath: '/host', readOnly: true, mountPropagation: 'HostToContainer' },
            { name: 'config', mountPath: '/etc/app' },
            { name: 'scratch', mountPath: '/logs', subPathExpr: '$(POD_NAME)' },
            { name: 'scratch', mountPath: '/sub', subPath: 'a/b' },
          ],
        },
      ],
    }),
  };
  assert.deepEqual(validatePod(pod), []);
});

test('volumes are checked as the API server checks them', () => {
  assert.deepEqual(
    validateVolumes(
      spec({
        volumes: [
          { name: 'a', emptyDir: {} },
          { name: 'a', emptyDir: {} },
          { name: 'none' },
          { name: 'two', emptyDir: {}, hostPath: { path: '/x' } },
          { name: 'pvc', persistentVolumeClaim: { claimName: 'x' } },
          { name: 'Bad_Name', emptyDir: { medium: 'HugePages' as 'Memory' } },
          { name: 'hp', hostPath: { path: 'relative/../x', type: 'Dir' as 'Directory' } },
          { name: 'cm', configMap: { defaultMode: 0o1000, items: [{ key: '', path: '/abs', mode: -1 }] } },
          {
            name: 'sec',
            secret: {
              secretName: 's',
              items: [
                { key: 'k', path: '..hidden' },
                { key: 'k', path: 'a/../b' },
              ],
            },
          },
          {
            name: 'dapi',
            downwardAPI: {
              items: [
                { path: 'ip', fieldRef: { fieldPath: 'status.podIP' } },
                { path: 'mem', resourceFieldRef: { resource: 'limits.memory' } },
                { path: 'none' },
              ],
            },
          },
        ],
      }),
    ),
    [
      'spec.volumes[1].name: Duplicate value: "a"',
      'spec.volumes[2]: Required value: must specify a volume type',
      'spec.volumes[3].hostPath: Forbidden: may not specify more than 1 volume type',
      'spec.volumes[4].persistentVolumeClaim: Forbidden: persistentVolumeClaim volumes are not supported by berth node (supported: emptyDir, hostPath, configMap, secret, downwardAPI, projected)',
      `spec.volumes[5].name: Invalid value: "Bad_Name": ${LABEL_MESSAGE}`,
      'spec.volumes[5].emptyDir.medium: Unsupported value: "HugePages": supported values: "", "Memory"',
      'spec.volumes[6].hostPath.path: Invalid value: "relative/../x": must be an absolute path',
      'spec.volumes[6].hostPath.path: Invalid value: "relative/../x": must not contain \'..\'',
      'spec.volumes[6].hostPath.type: Unsupported value: "Dir": supported values: "", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice", "BlockDevice"',
      'spec.volumes[7].configMap.name: Required value',
      'spec.volumes[7].configMap.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive',
      'spec.volumes[7].configMap.items[0].key: Required value',
      'spec.volumes[7].configMap.items[0].path: Invalid value: "/abs": must be a relative path',
      'spec.volumes[7].configMap.items[0].mode: Invalid value: -1: must be a number between 0 and 0777 (octal), both inclusive',
      'spec.volumes[8].secret.items[0].path: Invalid value: "..hidden": must not start with \'..\'',
      'spec.volumes[8].secret.items[1].path: Invalid value: "a/../b": must not contain \'..\'',
      'spec.volumes[9].downwardAPI.items[0].fieldRef.fieldPath: Unsupported value: "status.podIP": supported values: "metadata.annotations", "metadata.labels", "metadata.name", "metadata.namespace", "metadata.uid"',
      'spec.volumes[9].downwardAPI.items[1].resourceFieldRef.containerName: Required value',
      'spec.volumes[9].downwardAPI.items[2]: Required value: one of `fieldRef` or `resourceFieldRef` must be specified',
    ],
  );
});

test('volumeMounts name a volume, have unique absolute paths and stay inside the volume', () => {
  assert.deepEqual(
    validateVolumes(
      spec({
        volumes: [{ name: 'v', emptyDir: {} }],
        initContainers: [{ name: 'i', image: 'busybox', volumeMounts: [{ name: 'missing', mountPath: '/m' }] }],
        containers: [
          {
            name: 'c',
            image: 'busybox',
            volumeMounts: [
              { name: 'v', mountPath: '/a' },
              { name: 'v', mountPath: '/a/' },
              { name: 'v', mountPath: 'rel' },
              { name: 'v', mountPath: '' },
              { name: 'v', mountPath: '/s1', subPath: '/etc' },
              { name: 'v', mountPath: '/s2', subPath: '../up' },
              { name: 'v', mountPath: '/s3', subPath: 'x', subPathExpr: '$(X)' },
              { name: 'v', mountPath: '/p1', mountPropagation: 'Bidirectional' },
              { name: 'v', mountPath: '/p2', mountPropagation: 'Sideways' as 'None' },
            ],
          },
        ],
      }),
    ),
    [
      'spec.initContainers[0].volumeMounts[0].name: Not found: "missing"',
      'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a/": must be unique',
      'spec.containers[0].volumeMounts[2].mountPath: Invalid value: "rel": must be an absolute path',
      'spec.containers[0].volumeMounts[3].mountPath: Required value',
      'spec.containers[0].volumeMounts[4].subPath: Invalid value: "/etc": must be a relative path',
      'spec.containers[0].volumeMounts[5].subPath: Invalid value: "../up": must not contain \'..\'',
      'spec.containers[0].volumeMounts[6].subPathExpr: Invalid value: "$(X)": subPathExpr and subPath are mutually exclusive',
      'spec.containers[0].volumeMounts[7].mountPropagation: Forbidden: Bidirectional mount propagation is available only to privileged containers',
      'spec.containers[0].volumeMounts[8].mountPropagation: Unsupported value: "Sideways": supported values: "Bidirectional", "HostToContainer", "None"',
    ],
  );
});

test('file modes in YAML manifests are octal with a leading zero, as kubectl reads them', () => {
  const manifest = `
apiVersion: v1
kind: Pod
metadata: {name: modes}
spec:
  containers: [{name: c, image: busybox, volumeMounts: [{name: s, mountPath: /s}]}]
  volumes:
    - name: s
      secret: {secretName: creds, defaultMode: 0400, items: [{key: k, path: k, mode: 0o640}, {key: j, path: j, mode: 420}]}
`;
  const result = parseStaticPodManifest(manifest, { path: '/etc/berth/manifests/modes.yaml', nodeName: 'n' });
  if (!result.ok) assert.fail(result.errors.join('; '));
  const secret = result.pod.spec.volumes?.[0]?.secret;
  assert.deepEqual([secret?.defaultMode, secret?.items?.map((i) => i.mode)], [0o400, [0o640, 0o644]]);
  const bad = parseStaticPodManifest(manifest.replace('0400', '0778'), { path: '/m.yaml', nodeName: 'n' });
  assert.deepEqual(bad.ok ? [] : bad.errors, [
    'spec.volumes[0].secret.defaultMode: Invalid value: 778: must be a number between 0 and 0777 (octal), both inclusive',
  ]);
});

test('volume fields are type-checked and unknown ones reported, as the API server decodes them', () => {
  const result = parseStaticPodManifest(
    `
apiVersion: v1
kind: Pod
metadata: {name: typed}
spec:
  containers: [{name: c, image: busybox, volumeMounts: [{name: v, mountPath: /v, readOnly: "true", mountpath: /x}]}]
  volumes: [{name: v, emptyDir: {sizeLimit: lots}}]
`,
    { path: '/etc/berth/manifests/typed.yaml', nodeName: 'n' },
  );
  assert.deepEqual(result.ok ? [] : result.errors, [
    'spec.containers[0].volumeMounts[0].readOnly: Invalid value: "true": must be true or false',
    'spec.volumes[0].emptyDir.sizeLimit: Invalid value: "lots": must be a quantity such as 100m or 64Mi',
  ]);
  assert.deepEqual(result.warnings, ['unknown field "spec.containers[0].volumeMounts[0].mountpath"']);
});
