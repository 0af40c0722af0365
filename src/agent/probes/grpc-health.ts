// gRPC probes: the gRPC health checking protocol (grpc.health.v1.Health/Check) against the pod's
// IP and the probe's port, as the kubelet's grpc prober does: connect and ask within the probe's
// timeout; SERVING is success, anything else a failure, worded as the kubelet words it. The one
// unary call is made on node:http2 directly: a grpc-js channel keeps a connection attempt to a
// server that never answers open after it is closed, and probes repeat every period.
import { type ClientHttp2Session, connect } from 'node:http2';
import { setTimeout as sleep } from 'node:timers/promises';
import { BinaryReader, BinaryWriter } from '@bufbuild/protobuf/wire';

export const HEALTH_CHECK_METHOD = '/grpc.health.v1.Health/Check';

/** grpc.health.v1.HealthCheckResponse.ServingStatus, by number. */
export const SERVING_STATUS = ['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'] as const;

export interface GrpcProbeOutcome {
  result: 'success' | 'failure';
  message: string;
}

/** HealthCheckRequest { string service = 1; } */
export function encodeHealthCheckRequest(service: string): Buffer {
  const writer = new BinaryWriter();
  if (service !== '') writer.tag(1, 2).string(service);
  return Buffer.from(writer.finish());
}

export function decodeHealthCheckRequest(bytes: Uint8Array): string {
  const reader = new BinaryReader(bytes);
  let service = '';
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === 2) service = reader.string();
    else reader.skip(wireType);
  }
  return service;
}

/** HealthCheckResponse { ServingStatus status = 1; } */
export function encodeHealthCheckResponse(status: number): Buffer {
  const writer = new BinaryWriter();
  if (status !== 0) writer.tag(1, 0).int32(status);
  return Buffer.from(writer.finish());
}

export function decodeHealthCheckResponse(bytes: Uint8Array): number {
  const reader = new BinaryReader(bytes);
  let status = 0;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === 0) status = reader.int32();
    else reader.skip(wireType);
  }
  return status;
}

/** A status number's name as protobuf's String() gives it. */
export function servingStatusName(status: number): string {
  return SERVING_STATUS[status] ?? String(status);
}

/** Go's time.Duration String() for whole seconds. */
function goSeconds(seconds: number): string {
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h${minutes % 60}m${seconds % 60}s`;
}

/** grpc-go's names of the status codes (`rpc error: code = NotFound desc = …`). */
const CODE_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
];
const UNIMPLEMENTED = 12;
const DEADLINE_EXCEEDED = 4;

interface RpcAnswer {
  code: number;
  details: string;
  message?: Uint8Array;
}

/** A connected HTTP/2 session (the server's SETTINGS arrived), or undefined once `deadline` passes; refused connections are tried again. */
async function connectSession(authority: string, deadline: number, signal: AbortSignal): Promise<ClientHttp2Session | undefined> {
  while (Date.now() < deadline) {
    signal.throwIfAborted();
    const session = connect(authority);
    let timer: NodeJS.Timeout | undefined;
    let onAbort = () => {};
    const ready = await new Promise<boolean | 'retry'>((resolve) => {
      timer = setTimeout(() => resolve(false), deadline - Date.now());
      onAbort = () => resolve(false);
      signal.addEventListener('abort', onAbort, { once: true });
      session.once('remoteSettings', () => resolve(true));
      session.once('error', () => resolve('retry'));
      session.once('close', () => resolve('retry'));
    });
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
    if (ready === true) return session;
    session.destroy();
    if (ready === false) return undefined;
    // grpc-go keeps dialling until the deadline; it waits longer between attempts.
    await sleep(Math.min(200, Math.max(0, deadline - Date.now())));
  }
  return undefined;
}

/** One unary call on the session: the gRPC framing over HTTP/2 (a length-prefixed message, grpc-status in the trailers). */
function unaryCall(session: ClientHttp2Session, request: Uint8Array, deadline: number): Promise<RpcAnswer> {
  return new Promise((resolve) => {
    const remaining = Math.max(1, deadline - Date.now());
    const stream = session.request({
      ':method': 'POST',
      ':path': HEALTH_CHECK_METHOD,
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'kube-probe/1.30',
      'grpc-timeout': `${remaining}m`,
    });
    const chunks: Buffer[] = [];
    let headers: Record<string, unknown> = {};
    const done = (answer: RpcAnswer) => {
      clearTimeout(timer);
      stream.close();
      resolve(answer);
    };
    const timer = setTimeout(() => done({ code: DEADLINE_EXCEEDED, details: 'context deadline exceeded' }), remaining);
    const finish = (trailers: Record<string, unknown>) => {
      const status = trailers['grpc-status'] ?? headers['grpc-status'];
      const httpStatus = Number(headers[':status'] ?? 0);
      if (status === undefined) {
        const code = httpStatus === 404 ? UNIMPLEMENTED : 2;
        done({ code, details: `unexpected HTTP status code received from server: ${httpStatus}` });
        return;
      }
      const details = decodeURIComponent(String(trailers['grpc-message'] ?? headers['grpc-message'] ?? ''));
      const body = Buffer.concat(chunks);
      const length = body.length >= 5 ? body.readUInt32BE(1) : 0;
      done({ code: Number(status), details, ...(body.length >= 5 ? { message: body.subarray(5, 5 + length) } : {}) });
    };
    stream.on('response', (h) => {
      headers = h;
    });
    stream.on('data', (chunk: Buffer) => chunks.push(chunk));
    stream.on('trailers', (t) => finish(t));
    stream.on('end', () => finish({}));
    stream.on('error', (e) => done({ code: 14, details: e.message }));
    const frame = Buffer.alloc(5 + request.length);
    frame.writeUInt32BE(request.length, 1);
    frame.set(request, 5);
    stream.end(frame);
  });
}

/** One Check call against host:port for `service`, all within `timeoutSeconds`. */
export async function grpcHealthCheck(
  host: string,
  port: number,
  service: string,
  timeoutSeconds: number,
  signal: AbortSignal,
): Promise<GrpcProbeOutcome> {
  const address = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  const within = goSeconds(timeoutSeconds);
  const deadline = Date.now() + timeoutSeconds * 1000;
  const session = await connectSession(`http://${address}`, deadline, signal);
  signal.throwIfAborted();
  if (session === undefined) {
    return {
      result: 'failure',
      message: `timeout: failed to connect service ${JSON.stringify(address)} within ${within}: context deadline exceeded`,
    };
  }
  try {
    const answer = await unaryCall(session, encodeHealthCheckRequest(service), deadline);
    signal.throwIfAborted();
    if (answer.code === UNIMPLEMENTED) {
      return {
        result: 'failure',
        message: `error: this server does not implement the grpc health protocol (grpc.health.v1.Health): ${answer.details}`,
      };
    }
    if (answer.code === DEADLINE_EXCEEDED) return { result: 'failure', message: `timeout: health rpc did not complete within ${within}` };
    if (answer.code !== 0) {
      const name = CODE_NAMES[answer.code] ?? `Code(${answer.code})`;
      return { result: 'failure', message: `error: health rpc probe failed: rpc error: code = ${name} desc = ${answer.details}` };
    }
    const status = decodeHealthCheckResponse(answer.message ?? new Uint8Array());
    if (status !== 1) {
      return { result: 'failure', message: `service unhealthy (responded with ${JSON.stringify(servingStatusName(status))})` };
    }
    return { result: 'success', message: 'service healthy' };
  } finally {
    session.destroy();
  }
}
