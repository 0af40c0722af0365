// The files a pod gives its containers: /etc/resolv.conf, /etc/hostname, /etc/hosts and a /dev/shm
// of its own, kept in the pod's state directory (as containerd does).
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { invalidArgument } from '../errors/errors.ts';
import { mountAll, unmount } from '../snapshot/mount.ts';

export interface DnsInput {
  servers: string[];
  searches: string[];
  options: string[];
}

export interface PodFiles {
  dir: string;
  resolvConf: string;
  hosts: string;
  hostname: string;
  shm?: string;
}

const SHM_SIZE = '65536k';
const DEFAULT_HOSTS =
  '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n';

/** resolv.conf text from the pod's DNS config; limits as glibc reads them (6 searches, 3 servers). */
export function resolvConfText(dns: DnsInput): string {
  if (dns.searches.length > 6) throw invalidArgument('bad-dns-config', `at most 6 DNS search domains, got ${dns.searches.length}`);
  const lines: string[] = [];
  if (dns.searches.length > 0) lines.push(`search ${dns.searches.join(' ')}`);
  for (const s of dns.servers) lines.push(`nameserver ${s}`);
  if (dns.options.length > 0) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

export interface PodFilesRequest {
  dir: string;
  hostname: string;
  dns?: DnsInput;
  hostNetwork: boolean;
  /** The pod has its own IPC namespace: give it its own /dev/shm. */
  ownIpc: boolean;
}

export async function createPodFiles(req: PodFilesRequest): Promise<PodFiles> {
  await mkdir(req.dir, { recursive: true, mode: 0o711 });
  const files: PodFiles = {
    dir: req.dir,
    resolvConf: path.join(req.dir, 'resolv.conf'),
    hosts: path.join(req.dir, 'hosts'),
    hostname: path.join(req.dir, 'hostname'),
  };
  const dns = req.dns;
  if (dns && (dns.servers.length > 0 || dns.searches.length > 0 || dns.options.length > 0)) {
    await writeFile(files.resolvConf, resolvConfText(dns), { mode: 0o644 });
  } else {
    await copyFile('/etc/resolv.conf', files.resolvConf).catch(() => writeFile(files.resolvConf, '', { mode: 0o644 }));
  }
  await writeFile(files.hostname, `${req.hostname}\n`, { mode: 0o644 });
  if (req.hostNetwork) await copyFile('/etc/hosts', files.hosts);
  else await writeFile(files.hosts, DEFAULT_HOSTS, { mode: 0o644 });
  if (req.ownIpc) {
    const shm = path.join(req.dir, 'shm');
    await mkdir(shm, { recursive: true, mode: 0o1777 });
    await mountAll([{ type: 'tmpfs', source: 'shm', options: ['nosuid', 'nodev', 'noexec', 'mode=1777', `size=${SHM_SIZE}`] }], shm);
    files.shm = shm;
  }
  return files;
}

/** Idempotent: unmounts the pod's /dev/shm and removes its files. */
export async function removePodFiles(dir: string): Promise<void> {
  await unmount(path.join(dir, 'shm'), { detach: true }).catch(() => {});
  await rm(dir, { recursive: true, force: true });
}
