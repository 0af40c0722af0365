// Why the last sync could not start a container (the kubelet's reasonCache): ErrImagePull,
// ImagePullBackOff, CrashLoopBackOff, CreateContainerConfigError, CreateContainerError,
// RunContainerError. Shown as the container's waiting reason until it starts.

export interface SyncReason {
  reason: string;
  message: string;
}

export class SyncReasons {
  readonly #byPod = new Map<string, Map<string, SyncReason>>();

  set(uid: string, container: string, reason: SyncReason): void {
    const pod = this.#byPod.get(uid) ?? new Map<string, SyncReason>();
    this.#byPod.set(uid, pod);
    pod.set(container, reason);
  }

  clear(uid: string, container: string): void {
    this.#byPod.get(uid)?.delete(container);
  }

  forPod(uid: string): ReadonlyMap<string, SyncReason> {
    return this.#byPod.get(uid) ?? new Map();
  }

  forget(uid: string): void {
    this.#byPod.delete(uid);
  }
}
