// The shape of a v1 Pod as far as a manifest check needs it: each field's JSON type, so that a
// manifest is type-checked the way the API server decodes it, and fields Kubernetes does not know
// are reported (kubectl's "unknown field" warnings). Sub-objects berth does not read are `any`.
import { UNSUPPORTED_VOLUME_SOURCES } from './volume-sources.ts';

export type FieldType =
  | 'string'
  | 'integer'
  | 'boolean'
  | 'intOrString'
  | 'quantity'
  | 'any'
  | { map: FieldType }
  | { list: FieldType }
  | { object: Record<string, FieldType> };

const string = 'string';
const integer = 'integer';
const boolean = 'boolean';
const any = 'any';
const strings: FieldType = { list: string };
const stringMap: FieldType = { map: string };
const object = (fields: Record<string, FieldType>): FieldType => ({ object: fields });
const list = (item: FieldType): FieldType => ({ list: item });

/** ObjectMeta, shared with the ConfigMap and Secret manifests. */
export const objectMeta = object({
  name: string,
  generateName: string,
  namespace: string,
  selfLink: string,
  uid: string,
  resourceVersion: string,
  generation: integer,
  creationTimestamp: any,
  deletionTimestamp: any,
  deletionGracePeriodSeconds: integer,
  labels: stringMap,
  annotations: stringMap,
  ownerReferences: list(any),
  finalizers: strings,
  managedFields: list(any),
});

const keySelector = object({ name: string, key: string, optional: boolean });
const optionalRef = object({ name: string, optional: boolean });

const envVar = object({
  name: string,
  value: string,
  valueFrom: object({
    fieldRef: object({ apiVersion: string, fieldPath: string }),
    resourceFieldRef: object({ containerName: string, resource: string, divisor: 'quantity' }),
    configMapKeyRef: keySelector,
    secretKeyRef: keySelector,
  }),
});

const volumeMount = object({
  name: string,
  mountPath: string,
  readOnly: boolean,
  recursiveReadOnly: string,
  subPath: string,
  subPathExpr: string,
  mountPropagation: string,
});

const keyToPaths = list(object({ key: string, path: string, mode: integer }));

const downwardApiItems = list(
  object({
    path: string,
    fieldRef: object({ apiVersion: string, fieldPath: string }),
    resourceFieldRef: object({ containerName: string, resource: string, divisor: 'quantity' }),
    mode: integer,
  }),
);

/** The volume sources berth sets up are typed; the others are known (refused at validation) but not typed. */
const volume = object({
  name: string,
  emptyDir: object({ medium: string, sizeLimit: 'quantity' }),
  hostPath: object({ path: string, type: string }),
  configMap: object({ name: string, items: keyToPaths, defaultMode: integer, optional: boolean }),
  secret: object({ secretName: string, items: keyToPaths, defaultMode: integer, optional: boolean }),
  downwardAPI: object({ items: downwardApiItems, defaultMode: integer }),
  projected: object({
    sources: list(
      object({
        configMap: object({ name: string, items: keyToPaths, optional: boolean }),
        secret: object({ name: string, items: keyToPaths, optional: boolean }),
        downwardAPI: object({ items: downwardApiItems }),
        serviceAccountToken: object({ audience: string, expirationSeconds: integer, path: string }),
        clusterTrustBundle: any,
        podCertificate: any,
      }),
    ),
    defaultMode: integer,
  }),
  ...Object.fromEntries(UNSUPPORTED_VOLUME_SOURCES.map((source) => [source, any])),
});

// The handler actions probes and lifecycle hooks share.
const handlerActions = {
  exec: object({ command: strings }),
  httpGet: object({
    path: string,
    port: 'intOrString',
    host: string,
    scheme: string,
    httpHeaders: list(object({ name: string, value: string })),
  }),
  tcpSocket: object({ port: 'intOrString', host: string }),
};

const probe = object({
  ...handlerActions,
  grpc: object({ port: integer, service: string }),
  initialDelaySeconds: integer,
  timeoutSeconds: integer,
  periodSeconds: integer,
  successThreshold: integer,
  failureThreshold: integer,
  terminationGracePeriodSeconds: integer,
});

const lifecycleHandler = object({
  ...handlerActions,
  sleep: object({ seconds: integer }),
});

const seccompProfile = object({ type: string, localhostProfile: string });

const securityContext = object({
  privileged: boolean,
  capabilities: object({ add: strings, drop: strings }),
  runAsUser: integer,
  runAsGroup: integer,
  runAsNonRoot: boolean,
  readOnlyRootFilesystem: boolean,
  allowPrivilegeEscalation: boolean,
  procMount: string,
  seccompProfile,
  seLinuxOptions: any,
  windowsOptions: any,
  appArmorProfile: any,
});

const podSecurityContext = object({
  runAsUser: integer,
  runAsGroup: integer,
  runAsNonRoot: boolean,
  supplementalGroups: { list: integer },
  supplementalGroupsPolicy: string,
  fsGroup: integer,
  fsGroupChangePolicy: string,
  sysctls: list(object({ name: string, value: string })),
  seccompProfile,
  seLinuxOptions: any,
  seLinuxChangePolicy: string,
  windowsOptions: any,
  appArmorProfile: any,
});

const container = object({
  name: string,
  image: string,
  command: strings,
  args: strings,
  workingDir: string,
  ports: list(object({ name: string, hostPort: integer, containerPort: integer, protocol: string, hostIP: string })),
  envFrom: list(object({ prefix: string, configMapRef: optionalRef, secretRef: optionalRef })),
  env: list(envVar),
  resources: object({ limits: { map: 'quantity' }, requests: { map: 'quantity' }, claims: list(any) }),
  resizePolicy: list(any),
  restartPolicy: string,
  volumeMounts: list(volumeMount),
  volumeDevices: list(any),
  livenessProbe: probe,
  readinessProbe: probe,
  startupProbe: probe,
  lifecycle: object({ postStart: lifecycleHandler, preStop: lifecycleHandler, stopSignal: string }),
  terminationMessagePath: string,
  terminationMessagePolicy: string,
  imagePullPolicy: string,
  securityContext,
  stdin: boolean,
  stdinOnce: boolean,
  tty: boolean,
});

const podSpec = object({
  volumes: list(volume),
  initContainers: list(container),
  containers: list(container),
  ephemeralContainers: list(any),
  restartPolicy: string,
  terminationGracePeriodSeconds: integer,
  activeDeadlineSeconds: integer,
  dnsPolicy: string,
  nodeSelector: stringMap,
  serviceAccountName: string,
  serviceAccount: string,
  automountServiceAccountToken: boolean,
  nodeName: string,
  hostNetwork: boolean,
  hostPID: boolean,
  hostIPC: boolean,
  shareProcessNamespace: boolean,
  securityContext: podSecurityContext,
  imagePullSecrets: list(any),
  hostname: string,
  subdomain: string,
  affinity: any,
  schedulerName: string,
  tolerations: list(object({ key: string, operator: string, value: string, effect: string, tolerationSeconds: integer })),
  hostAliases: list(object({ ip: string, hostnames: strings })),
  priorityClassName: string,
  priority: integer,
  dnsConfig: object({ nameservers: strings, searches: strings, options: list(object({ name: string, value: string })) }),
  readinessGates: list(any),
  runtimeClassName: string,
  enableServiceLinks: boolean,
  preemptionPolicy: string,
  overhead: { map: 'quantity' },
  topologySpreadConstraints: list(any),
  setHostnameAsFQDN: boolean,
  os: any,
  hostUsers: boolean,
  schedulingGates: list(any),
  resourceClaims: list(any),
  resources: any,
});

export const POD_SCHEMA: FieldType = object({
  apiVersion: string,
  kind: string,
  metadata: objectMeta,
  spec: podSpec,
  status: any,
});
