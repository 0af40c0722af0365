// Where the node's pods come from, as the kubelet's pod config merges its sources: static pods from
// the manifest folder and, in API-server mode, the pods the API server binds to the node. Keeps the
// latest pods of each source, tells its listeners when one changed, and knows when every source
// was read once (from then on, pods the provider runs that no source has are orphans).
import type { Logger } from '../util/logger.ts';
import type { Pod } from './k8s-types.ts';
import { repeatEvery } from './periodic.ts';
import { ManifestDirSource, type ManifestProblem } from './static-pods/manifest-dir-source.ts';
import type { ManifestObjectStore } from './static-pods/manifest-object-store.ts';

export interface PodSourcesOptions {
  nodeName: string;
  /** Static pod manifests (kubelet --pod-manifest-path). */
  manifestDir?: string;
  /** Where the manifest folder's ConfigMaps and Secrets go (standalone mode). */
  manifestObjects?: ManifestObjectStore;
  /** Manifest folder scan period. */
  manifestScanMs: number;
  /** API-server mode: the API's pods count as read once `setApiPods` was first called. */
  fromApiServer: boolean;
  logger: Logger;
}

export class PodSources {
  readonly #options: PodSourcesOptions;
  readonly #manifests: ManifestDirSource | undefined;
  readonly #listeners: (() => void)[] = [];
  #staticPods: Pod[] = [];
  #apiPods: Pod[] = [];
  #staticSeen: boolean;
  #apiSeen: boolean;

  constructor(options: PodSourcesOptions) {
    this.#options = options;
    const { manifestDir: dir, nodeName, logger, manifestObjects: objects } = options;
    this.#manifests = dir === undefined ? undefined : new ManifestDirSource({ dir, nodeName, logger, objects });
    this.#staticSeen = this.#manifests === undefined;
    this.#apiSeen = !options.fromApiServer;
  }

  /** The pods the manifest folder describes. */
  staticPods(): Pod[] {
    return this.#staticPods;
  }

  /** The API's pods bound to the node (mirror pods are not among them). */
  apiPods(): Pod[] {
    return this.#apiPods;
  }

  /** Every source was read once. */
  allSeen(): boolean {
    return this.#staticSeen && this.#apiSeen;
  }

  /** Calls `listener` after every change of a source's pods. */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  setApiPods(pods: Pod[]): void {
    this.#apiPods = pods;
    this.#apiSeen = true;
    this.#changed();
  }

  setStaticPods(pods: Pod[]): void {
    this.#staticPods = pods;
    this.#staticSeen = true;
    this.#changed();
  }

  /** Reads the manifest folder once; a failure is thrown. Without a folder, does nothing. */
  async scanManifests(signal: AbortSignal): Promise<void> {
    if (this.#manifests !== undefined) this.setStaticPods(await this.#manifests.scan(signal));
  }

  /** Reads the manifest folder every manifestScanMs until `signal` aborts (at once the first time); failures are logged. */
  runManifestScans(signal: AbortSignal): Promise<void> {
    const { manifestScanMs, logger, manifestDir } = this.#options;
    return repeatEvery(
      manifestScanMs,
      signal,
      () => this.scanManifests(signal),
      (e) => logger.error({ err: e, dir: manifestDir }, 'reading static pod manifests failed'),
    );
  }

  /** Manifest files that are refused or have warnings. */
  manifestProblems(): ManifestProblem[] {
    return this.#manifests?.problems() ?? [];
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
