// The evented half of the PLEG: follows the runtime's CRI GetContainerEvents stream and names the
// pod (by the kubelet's pod UID label) that each event is about, so its status is read at once
// rather than at the next relist. A runtime that answers UNIMPLEMENTED (containerd before 1.7)
// leaves the node to relisting, silently. A broken stream is opened again with back-off; events
// missed meanwhile are what the relist (which goes on either way) is for, and every reopening
// also asks for a look at every pod.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pod } from '../../agent/k8s-types.ts';
import type { RuntimeClient } from '../../cri/cri-client.ts';
import type { ContainerEventResponse } from '../../cri-api/gen/runtime/v1/api_pb.js';
import { isBerthError } from '../../errors/errors.ts';
import type { Logger } from '../../util/logger.ts';
import { POD_UID_LABEL } from './kubelet-labels.ts';

export interface ContainerEventsWatchOptions {
  runtime: RuntimeClient;
  logger: Logger;
  /** A container or sandbox of this pod changed. */
  onPodEvent: (uid: string) => void;
  /** The stream was opened again after a break: events may have been missed. */
  onReopened: () => void;
  /** Delay before reopening a broken stream: doubles from the first to the second, reset by an event. */
  backOffMs?: { initial: number; max: number };
}

const DEFAULT_BACK_OFF = { initial: 1000, max: 30_000 };

/** The pod UID an event is about; undefined when the runtime does not say (a removed sandbox). */
export function podUidOfEvent(event: ContainerEventResponse): string | undefined {
  const fromSandbox = event.podSandboxStatus?.labels[POD_UID_LABEL];
  if (fromSandbox) return fromSandbox;
  const container = event.containersStatuses.find((c) => c.id === event.containerId) ?? event.containersStatuses[0];
  return container?.labels[POD_UID_LABEL] || undefined;
}

/** Runs until `signal` aborts, or until the runtime says it has no container events. */
export async function watchContainerEvents(options: ContainerEventsWatchOptions, signal: AbortSignal): Promise<void> {
  const { runtime, logger } = options;
  const backOff = options.backOffMs ?? DEFAULT_BACK_OFF;
  let delay = backOff.initial;
  let opened = false;
  while (!signal.aborted) {
    if (opened) options.onReopened();
    opened = true;
    try {
      for await (const event of runtime.getContainerEvents({}, { signal })) {
        delay = backOff.initial;
        const uid = podUidOfEvent(event);
        if (uid !== undefined) options.onPodEvent(uid);
      }
      if (!signal.aborted) logger.info({ retryInMs: delay }, 'the container event stream ended; opening it again');
    } catch (e) {
      if (signal.aborted) return;
      if (isBerthError(e, 'unimplemented')) {
        logger.info('the container runtime offers no container events (GetContainerEvents); relisting only');
        return;
      }
      logger.warn({ err: e, retryInMs: delay }, 'the container event stream broke; relisting covers the gap until it is back');
    }
    try {
      await sleep(delay, undefined, { signal });
    } catch {
      return;
    }
    delay = Math.min(delay * 2, backOff.max);
  }
}

export interface PodEventNotifierOptions {
  runtime: RuntimeClient;
  logger: Logger;
  /** The pod with its current status, read from the runtime; undefined when the runtime holds nothing of it. */
  readPod: (uid: string, signal: AbortSignal) => Promise<Pod | undefined>;
  /** Every pod with its current status (after the stream was reopened). */
  readAll: (signal: AbortSignal) => Promise<Pod[]>;
  onPodChanged: (pod: Pod) => void;
  backOffMs?: { initial: number; max: number };
}

/**
 * The provider's PodNotifier from container events: each event reads its pod's status again, one
 * read per pod at a time (a burst of events for one pod costs at most one more read).
 */
export function notifyPodsFromContainerEvents(options: PodEventNotifierOptions, signal: AbortSignal): Promise<void> {
  const { logger, onPodChanged } = options;
  /** Pods being read, and whether another event came meanwhile. */
  const reading = new Map<string, boolean>();
  const read = async (uid: string) => {
    do {
      reading.set(uid, false);
      try {
        const pod = await options.readPod(uid, signal);
        if (pod !== undefined && !signal.aborted) onPodChanged(pod);
      } catch (e) {
        if (!signal.aborted) logger.debug({ err: e, uid }, 'reading a pod after a container event failed; the relist will');
      }
    } while (reading.get(uid) === true && !signal.aborted);
    reading.delete(uid);
  };
  const onPodEvent = (uid: string) => {
    if (reading.has(uid)) reading.set(uid, true);
    else void read(uid);
  };
  const onReopened = () => {
    options.readAll(signal).then(
      (pods) => {
        if (!signal.aborted) for (const pod of pods) onPodChanged(pod);
      },
      (e) => {
        if (!signal.aborted) logger.debug({ err: e }, 'reading every pod after the event stream came back failed; the relist will');
      },
    );
  };
  return watchContainerEvents({ runtime: options.runtime, logger, onPodEvent, onReopened, backOffMs: options.backOffMs }, signal);
}
