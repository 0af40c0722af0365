// Image references and digests: parse, then the normal form must parse to itself.
import { isDigest, parseDigest } from '../../../src/oci/digest.ts';
import { familiarReference, normalizeReference, parseReference } from '../../../src/oci/reference.ts';
import type { FuzzTarget } from '../engine.ts';
import { invariant, refusalOrResult, words } from '../expect.ts';

const D = `sha256:${'a'.repeat(64)}`;

export const referenceTarget: FuzzTarget = {
  name: 'image-reference',
  cover: ['/src/oci/'],
  maxLength: 600,
  dictionary: words('docker.io/', 'library/', ':', '@', 'sha256:', 'sha512:', 'localhost', ':5000', '[::1]', '/', '..', '__', '-', '.'),
  seeds: () =>
    [
      'busybox',
      'busybox:1.36',
      'docker.io/library/ubuntu:22.04',
      'index.docker.io/foo/bar',
      'registry.k8s.io/pause:3.9',
      'localhost:5000/foo/bar:tag',
      '[::1]:5000/busybox',
      'quay.io/a_b/c__d/e-f/g---h.i:Tag_1.0-x',
      `busybox:1.36@${D}`,
      `gcr.io/a/b:t@${D}`,
      D,
      'UPPER/case',
      'a/../b',
    ].map((s) => Buffer.from(s)),
  async run(input) {
    const text = input.toString('latin1');
    const ref = await refusalOrResult(() => parseReference(text));
    if (ref) {
      const normal = ref.string();
      invariant(normalizeReference(normal) === normal, `normal form ${JSON.stringify(normal)} is not stable`);
      invariant(
        parseReference(familiarReference(normal)).string() === normal,
        `familiar form of ${JSON.stringify(normal)} does not parse back`,
      );
      if (ref.digest !== undefined) invariant(isDigest(ref.digest), `digest ${ref.digest} of ${JSON.stringify(text)} is not a digest`);
    }
    const digest = await refusalOrResult(() => parseDigest(text));
    if (digest !== undefined) invariant(isDigest(digest), `parseDigest accepted ${JSON.stringify(text)} that isDigest refuses`);
  },
};
