// One probe attempt: an HTTP GET (success for 200–399), a TCP connect, a gRPC health check
// (grpc-health.ts: success for SERVING) or a command run in the container (success for exit 0),
// each within timeoutSeconds — as the kubelet's probers do.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { deadlineExceeded } from '../../errors/errors.ts';
import type { Container, HttpGetAction, Probe, TcpSocketAction } from '../k8s-types.ts';
import { grpcHealthCheck } from './grpc-health.ts';

export interface ProbeOutcome {
  result: 'success' | 'failure';
  /** Why, for the log and events: "HTTP probe failed with statuscode: 500", … */
  message: string;
}

export type ExecInContainer = (
  command: string[],
  timeoutSeconds: number,
  signal: AbortSignal,
) => Promise<{ exitCode: number; output: string }>;

export interface ProbeTarget {
  container: Container;
  /** Where httpGet and tcpSocket go unless the probe names a host. */
  podIP: string;
  exec?: ExecInContainer;
}

/** A probe's port: a number, or the name of one of the container's ports. */
export function resolvePort(port: number | string, container: Container): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

function httpGet(action: HttpGetAction, target: ProbeTarget, timeoutMs: number, signal: AbortSignal): Promise<ProbeOutcome> {
  const port = resolvePort(action.port, target.container);
  if (port === undefined) return Promise.resolve({ result: 'failure', message: `unknown port "${action.port}"` });
  const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.30', Accept: '*/*' };
  for (const h of action.httpHeaders ?? []) headers[h.name] = h.value;
  const request = action.scheme === 'HTTPS' ? httpsRequest : httpRequest;
  return new Promise((resolve) => {
    const req = request(
      {
        host: action.host || target.podIP,
        port,
        path: action.path || '/',
        method: 'GET',
        headers,
        timeout: timeoutMs,
        signal,
        rejectUnauthorized: false,
      },
      (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve(
          status >= 200 && status < 400
            ? { result: 'success', message: `HTTP ${status}` }
            : { result: 'failure', message: `HTTP probe failed with statuscode: ${status}` },
        );
      },
    );
    req.on('timeout', () => req.destroy(deadlineExceeded('probe-timeout', `timeout after ${timeoutMs} ms`)));
    req.on('error', (e) =>
      resolve({
        result: 'failure',
        message: `Get "${action.scheme === 'HTTPS' ? 'https' : 'http'}://${action.host || target.podIP}:${port}${action.path || '/'}": ${e.message}`,
      }),
    );
    req.end();
  });
}

function tcpSocket(action: TcpSocketAction, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
  const port = resolvePort(action.port, target.container);
  if (port === undefined) return Promise.resolve({ result: 'failure', message: `unknown port "${action.port}"` });
  const host = action.host || target.podIP;
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ result: 'success', message: `connected to ${host}:${port}` });
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve({ result: 'failure', message: `dial tcp ${host}:${port}: i/o timeout` });
    });
    socket.once('error', (e) => resolve({ result: 'failure', message: `dial tcp ${host}:${port}: ${e.message}` }));
  });
}

export async function checkProbe(probe: Probe, target: ProbeTarget, signal: AbortSignal): Promise<ProbeOutcome> {
  const timeoutSeconds = Math.max(1, probe.timeoutSeconds ?? 1);
  const timeoutMs = timeoutSeconds * 1000;
  if (probe.httpGet) return httpGet(probe.httpGet, target, timeoutMs, signal);
  if (probe.tcpSocket) return tcpSocket(probe.tcpSocket, target, timeoutMs);
  if (probe.grpc) return grpcHealthCheck(target.podIP, probe.grpc.port, probe.grpc.service ?? '', timeoutSeconds, signal);
  if (probe.exec) {
    if (target.exec === undefined) return { result: 'failure', message: 'the provider cannot run commands in containers' };
    try {
      const { exitCode, output } = await target.exec(
        probe.exec.command ?? [],
        timeoutSeconds,
        AbortSignal.any([signal, AbortSignal.timeout(timeoutMs + 5000)]),
      );
      return exitCode === 0
        ? { result: 'success', message: output }
        : { result: 'failure', message: `command exited with ${exitCode}${output ? `: ${output}` : ''}` };
    } catch (e) {
      if (signal.aborted) throw e;
      return { result: 'failure', message: `exec failed: ${(e as Error).message}` };
    }
  }
  return { result: 'failure', message: 'the probe has no supported handler' };
}
