// Builds the sample image that up.sh loads: Debian's static busybox as a one-layer OCI image,
// written as an OCI-layout archive (what `berth image import` reads). No registry needed.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';

const [output = 'busybox.tar', name = 'docker.io/library/busybox:berth-sample'] = process.argv.slice(2);
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const work = mkdtempSync(path.join(tmpdir(), 'berth-sample-'));
try {
  const root = path.join(work, 'rootfs');
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'var/run']) mkdirSync(path.join(root, d), { recursive: true });
  chmodSync(path.join(root, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
  chmodSync(path.join(root, 'bin/busybox'), 0o755);
  for (const applet of execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n')) {
    if (applet && applet !== 'busybox') symlinkSync('busybox', path.join(root, 'bin', applet));
  }
  writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');

  const layerTar = await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    tar
      .c({ cwd: root, portable: true, noMtime: true, mtime: new Date(0) }, ['.'])
      .on('data', (c: Buffer) => chunks.push(c))
      .on('end', () => resolve(Buffer.concat(chunks)))
      .on('error', reject);
  });
  const layer = gzipSync(layerTar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], Cmd: ['sh'] },
      rootfs: { type: 'layers', diff_ids: [sha256(layerTar)] },
      history: [{ created_by: 'berth sample image: Debian busybox-static' }],
    }),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(layer), size: layer.length }],
    }),
  );
  const index = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: sha256(manifest),
        size: manifest.length,
        annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.slice(name.lastIndexOf(':') + 1) },
      },
    ],
  };
  const layout = path.join(work, 'layout');
  mkdirSync(path.join(layout, 'blobs/sha256'), { recursive: true });
  for (const blob of [layer, config, manifest]) writeFileSync(path.join(layout, 'blobs/sha256', sha256(blob).slice(7)), blob);
  writeFileSync(path.join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(path.join(layout, 'index.json'), JSON.stringify(index));
  await tar.c({ cwd: layout, file: path.resolve(output), portable: true }, ['oci-layout', 'index.json', 'blobs']);
  process.stdout.write(`${output}: ${name}\n`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
