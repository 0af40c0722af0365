// The volume sources of the v1 API: the ones berth node sets up, and the others, known by name
// so that a manifest using one is refused with a clear reason rather than as an unknown field.

export const SUPPORTED_VOLUME_SOURCES = ['emptyDir', 'hostPath', 'configMap', 'secret', 'downwardAPI', 'projected'] as const;

export const UNSUPPORTED_VOLUME_SOURCES = [
  'persistentVolumeClaim',
  'ephemeral',
  'nfs',
  'iscsi',
  'csi',
  'image',
  'gitRepo',
  'awsElasticBlockStore',
  'gcePersistentDisk',
  'azureDisk',
  'azureFile',
  'cephfs',
  'rbd',
  'fc',
  'flexVolume',
  'glusterfs',
  'cinder',
  'flocker',
  'vsphereVolume',
  'quobyte',
  'photonPersistentDisk',
  'portworxVolume',
  'scaleIO',
  'storageos',
];
