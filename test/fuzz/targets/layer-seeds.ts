// Layer tars the fuzz targets start from, written as the image tests write theirs.
import { writeTar } from '../../support/tar-writer.ts';

export function layerSeeds(): Buffer[] {
  const long = `${'d'.repeat(120)}/${'f'.repeat(120)}`;
  return [
    writeTar([
      { type: 'dir', name: 'etc/' },
      { type: 'file', name: 'etc/hostname', content: 'box\n', mode: 0o644, uid: 1000, gid: 1000 },
      { type: 'symlink', name: 'etc/link', linkname: 'hostname' },
      { type: 'hardlink', name: 'etc/hard', linkname: 'etc/hostname' },
    ]),
    writeTar([
      { type: 'file', name: 'bin/cap', content: 'x', xattrs: { 'user.berth': 'yes', 'security.capability': Buffer.from([1, 0, 0, 2]) } },
      { type: 'file', name: long, content: 'long', mtime: 1.5 },
      { type: 'fifo', name: 'run/fifo' },
      { type: 'char', name: 'dev/null', devmajor: 1, devminor: 3 },
    ]),
    writeTar([
      { type: 'dir', name: 'var/' },
      { type: 'file', name: 'var/.wh..wh..opq', content: '' },
      { type: 'file', name: 'var/.wh.old', content: '' },
      { type: 'file', name: 'var/new', content: 'n'.repeat(700) },
    ]),
    writeTar([{ type: 'file', name: 'a', content: 'a', pax: { path: 'pax/path', uid: '4294967294', mtime: '-1.25' } }], { forcePax: true }),
    writeTar([{ type: 'file', name: 'gnu', content: 'g', typeflag: 'L' }], { end: false }),
    writeTar([
      { type: 'symlink', name: 'escape', linkname: '../../..' },
      { type: 'file', name: 'escape/x', content: 'x' },
    ]),
  ];
}
