// Static pods from a directory of manifest files, as the kubelet's file source reads them: every
// regular, non-hidden file is one Pod (YAML or JSON); subdirectories are not read. A file is read
// again only when its inode, size or mtime changed. A file that turns bad keeps the pod it last
// described (and reports why); a missing directory means no static pods.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../util/logger.ts';
import type { Pod } from '../k8s-types.ts';
import { podFullName } from '../k8s-types.ts';
import { CONFIG_SEEN_ANNOTATION, parseStaticPodManifest } from './static-pod-manifest.ts';

export interface ManifestProblem {
  /** The manifest's path. */
  file: string;
  errors: string[];
  warnings: string[];
}

interface FileEntry {
  stamp: string;
  pod?: Pod;
  errors: string[];
  warnings: string[];
}

export interface ManifestDirSourceOptions {
  dir: string;
  nodeName: string;
  logger: Logger;
  now?: () => Date;
}

export class ManifestDirSource {
  readonly #options: ManifestDirSourceOptions;
  readonly #files = new Map<string, FileEntry>();
  #duplicates = new Map<string, string>();
  #dirMissingLogged = false;

  constructor(options: ManifestDirSourceOptions) {
    this.#options = options;
  }

  /** Reads what changed in the directory; returns the pods every good manifest describes now, by file name. */
  async scan(signal: AbortSignal): Promise<Pod[]> {
    const { dir, logger } = this.#options;
    let names: string[];
    try {
      names = (await readdir(dir)).filter((name) => !name.startsWith('.')).sort();
      this.#dirMissingLogged = false;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      if (!this.#dirMissingLogged) logger.warn({ dir }, 'static pod manifest directory does not exist; no static pods');
      this.#dirMissingLogged = true;
      names = [];
    }
    signal.throwIfAborted();
    const seen = new Set<string>();
    for (const name of names) {
      const file = path.join(dir, name);
      const info = await stat(file).catch(() => undefined);
      if (info === undefined || !info.isFile()) continue;
      seen.add(file);
      const stamp = `${info.ino}:${info.size}:${info.mtimeMs}`;
      const entry = this.#files.get(file);
      if (entry?.stamp === stamp) continue;
      const text = await readFile(file, 'utf8').catch((e: Error) => e);
      this.#files.set(file, this.#load(file, stamp, text, entry));
    }
    for (const file of this.#files.keys()) {
      if (!seen.has(file)) {
        logger.info({ file }, 'static pod manifest removed');
        this.#files.delete(file);
      }
    }
    return this.#podsByFile();
  }

  /** Files whose manifest is refused or questionable right now, with what is wrong. */
  problems(): ManifestProblem[] {
    const problems: ManifestProblem[] = [];
    for (const [file, entry] of this.#files) {
      const duplicate = this.#duplicates.get(file);
      const errors = duplicate === undefined ? entry.errors : [...entry.errors, duplicate];
      if (errors.length > 0 || entry.warnings.length > 0) problems.push({ file, errors, warnings: entry.warnings });
    }
    return problems;
  }

  #load(file: string, stamp: string, text: string | Error, previous: FileEntry | undefined): FileEntry {
    const { logger, nodeName } = this.#options;
    if (text instanceof Error) {
      logger.error({ file, err: text.message }, 'cannot read static pod manifest');
      return { stamp, pod: previous?.pod, errors: [`cannot read the file: ${text.message}`], warnings: [] };
    }
    const result = parseStaticPodManifest(text, { path: file, nodeName });
    if (result.warnings.length > 0) logger.warn({ file, warnings: result.warnings }, 'static pod manifest has warnings');
    if (!result.ok) {
      logger.error(
        { file, errors: result.errors, keeping: previous?.pod === undefined ? undefined : podFullName(previous.pod) },
        `static pod manifest ${file} rejected: ${result.errors.join('; ')}`,
      );
      return { stamp, pod: previous?.pod, errors: result.errors, warnings: result.warnings };
    }
    const pod = result.pod;
    const previousPod = previous?.pod;
    const seenAt = previousPod?.metadata.uid === pod.metadata.uid ? previousPod?.metadata.annotations?.[CONFIG_SEEN_ANNOTATION] : undefined;
    pod.metadata.annotations = {
      ...pod.metadata.annotations,
      [CONFIG_SEEN_ANNOTATION]: seenAt ?? (this.#options.now?.() ?? new Date()).toISOString(),
    };
    if (previous?.pod?.metadata.uid !== pod.metadata.uid)
      logger.info({ file, pod: podFullName(pod), uid: pod.metadata.uid }, 'static pod manifest loaded');
    return { stamp, pod, errors: [], warnings: result.warnings };
  }

  /** One pod per full name: when two files name the same pod, the first file by name wins. */
  #podsByFile(): Pod[] {
    const pods: Pod[] = [];
    const owners = new Map<string, string>();
    const duplicates = new Map<string, string>();
    for (const [file, entry] of [...this.#files].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (entry.pod === undefined) continue;
      const name = podFullName(entry.pod);
      const owner = owners.get(name);
      if (owner !== undefined) {
        duplicates.set(file, `metadata.name: Duplicate value: "${entry.pod.metadata.name}": the pod is already defined by ${owner}`);
        if (!this.#duplicates.has(file))
          this.#options.logger.error(
            { file, pod: name, owner },
            `static pod manifest ${file} ignored: pod ${name} is already defined by ${owner}`,
          );
        continue;
      }
      owners.set(name, file);
      pods.push(entry.pod);
    }
    this.#duplicates = duplicates;
    return pods;
  }
}
