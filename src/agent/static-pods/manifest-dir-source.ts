// Static pods from a directory of manifest files, as the kubelet's file source reads them: every
// regular, non-hidden file is one Pod (YAML or JSON); subdirectories are not read. A file is read
// again only when its inode, size or mtime changed. A file that turns bad keeps the pod it last
// described (and reports why); a missing directory means no static pods. In standalone mode a file
// may hold a ConfigMap or a Secret instead, for the pods to refer to; those go to an object store.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../util/logger.ts';
import type { Pod } from '../k8s-types.ts';
import { podFullName } from '../k8s-types.ts';
import { type ManifestObject, OBJECT_KINDS, objectFromManifest, objectRef } from './manifest-object.ts';
import type { ManifestObjectStore } from './manifest-object-store.ts';
import type { ShapeIssues } from './shape-check.ts';
import { CONFIG_SEEN_ANNOTATION, decodeManifest, type ManifestResult, podFromManifest } from './static-pod-manifest.ts';

export interface ManifestProblem {
  /** The manifest's path. */
  file: string;
  errors: string[];
  warnings: string[];
}

interface FileEntry {
  stamp: string;
  pod?: Pod;
  object?: ManifestObject;
  errors: string[];
  warnings: string[];
}

export interface ManifestDirSourceOptions {
  dir: string;
  nodeName: string;
  logger: Logger;
  now?: () => Date;
  /** Where the folder's ConfigMaps and Secrets go (standalone mode); without it they are reported as unused. */
  objects?: ManifestObjectStore;
}

export class ManifestDirSource {
  readonly #options: ManifestDirSourceOptions;
  readonly #files = new Map<string, FileEntry>();
  #duplicates = new Map<string, string>();
  #objectProblems = new Map<string, { errors: string[]; warnings: string[] }>();
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
    this.#publishObjects();
    return this.#podsByFile();
  }

  /** Files whose manifest is refused or questionable right now, with what is wrong. */
  problems(): ManifestProblem[] {
    const problems: ManifestProblem[] = [];
    for (const [file, entry] of this.#files) {
      const duplicate = this.#duplicates.get(file);
      const objectProblems = this.#objectProblems.get(file);
      const errors = [...entry.errors, ...(duplicate === undefined ? [] : [duplicate]), ...(objectProblems?.errors ?? [])];
      const warnings = [...entry.warnings, ...(objectProblems?.warnings ?? [])];
      if (errors.length > 0 || warnings.length > 0) problems.push({ file, errors, warnings });
    }
    return problems;
  }

  #load(file: string, stamp: string, text: string | Error, previous: FileEntry | undefined): FileEntry {
    const { logger, nodeName } = this.#options;
    if (text instanceof Error) {
      logger.error({ file, err: text.message }, 'cannot read static pod manifest');
      return { stamp, pod: previous?.pod, object: previous?.object, errors: [`cannot read the file: ${text.message}`], warnings: [] };
    }
    const issues: ShapeIssues = { errors: [], warnings: [] };
    const decoded = decodeManifest(text, issues);
    const kind = (decoded as { kind?: unknown } | undefined)?.kind;
    if ((OBJECT_KINDS as readonly unknown[]).includes(kind)) return this.#loadObject(file, stamp, decoded, issues, previous);
    const result: ManifestResult = podFromManifest(decoded, issues, { path: file, nodeName });
    if (result.warnings.length > 0) logger.warn({ file, warnings: result.warnings }, 'static pod manifest has warnings');
    if (!result.ok) {
      logger.error(
        { file, errors: result.errors, keeping: previous?.pod === undefined ? undefined : podFullName(previous.pod) },
        `static pod manifest ${file} rejected: ${result.errors.join('; ')}`,
      );
      return { stamp, pod: previous?.pod, object: previous?.object, errors: result.errors, warnings: result.warnings };
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

  #loadObject(file: string, stamp: string, decoded: unknown, issues: ShapeIssues, previous: FileEntry | undefined): FileEntry {
    const { logger } = this.#options;
    const result = objectFromManifest(decoded as Record<string, unknown>, issues);
    if (result.warnings.length > 0) logger.warn({ file, warnings: result.warnings }, 'manifest has warnings');
    if (!result.ok) {
      const keeping = previous?.object ? objectRef(previous.object) : previous?.pod ? podFullName(previous.pod) : undefined;
      logger.error({ file, errors: result.errors, keeping }, `manifest ${file} rejected: ${result.errors.join('; ')}`);
      return { stamp, pod: previous?.pod, object: previous?.object, errors: result.errors, warnings: result.warnings };
    }
    logger.info({ file, object: objectRef(result.object) }, 'manifest object loaded');
    return { stamp, object: result.object, errors: [], warnings: result.warnings };
  }

  /** The folder's ConfigMaps and Secrets to the store: one per kind, namespace and name, the first file by name wins. */
  #publishObjects(): void {
    const objects: ManifestObject[] = [];
    const owners = new Map<string, string>();
    const problems = new Map<string, { errors: string[]; warnings: string[] }>();
    for (const [file, entry] of [...this.#files].sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (entry.object === undefined) continue;
      const ref = objectRef(entry.object);
      if (this.#options.objects === undefined) {
        problems.set(file, { errors: [], warnings: [`${ref} is not used: this node reads ConfigMaps and Secrets from the API server`] });
        continue;
      }
      const owner = owners.get(ref);
      if (owner !== undefined) {
        const message = `metadata.name: Duplicate value: "${entry.object.metadata.name}": the ${entry.object.kind} is already defined by ${owner}`;
        if (this.#objectProblems.get(file)?.errors[0] !== message)
          this.#options.logger.error({ file, object: ref, owner }, `manifest ${file} ignored: ${ref} is already defined by ${owner}`);
        problems.set(file, { errors: [message], warnings: [] });
        continue;
      }
      owners.set(ref, file);
      objects.push(entry.object);
    }
    this.#objectProblems = problems;
    this.#options.objects?.replace(objects);
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
