// A gRPC health server (grpc.health.v1.Health/Check) on the host for probe tests: a status per
// service name that the test changes at will; unknown services answer NOT_FOUND, as the
// reference implementations do; a service set to 'hang' never answers.
import * as grpc from '@grpc/grpc-js';
import {
  decodeHealthCheckRequest,
  encodeHealthCheckResponse,
  HEALTH_CHECK_METHOD,
  SERVING_STATUS,
} from '../../src/agent/probes/grpc-health.ts';

export type HealthStatus = (typeof SERVING_STATUS)[number] | 'hang';

export interface GrpcHealthServer {
  port: number;
  /** Sets what Check answers for `service` ('' is the server as a whole). */
  set(service: string, status: HealthStatus): void;
  /** How many Check calls arrived, per service. */
  calls: Map<string, number>;
  close(): Promise<void>;
}

export async function startGrpcHealthServer(
  host = '127.0.0.1',
  initial: Record<string, HealthStatus> = { '': 'SERVING' },
): Promise<GrpcHealthServer> {
  const statuses = new Map<string, HealthStatus>(Object.entries(initial));
  const calls = new Map<string, number>();
  const server = new grpc.Server();
  const definition: grpc.ServiceDefinition = {
    Check: {
      path: HEALTH_CHECK_METHOD,
      requestStream: false,
      responseStream: false,
      requestSerialize: (v: unknown) => Buffer.from(v as Uint8Array),
      // An object, not the bare string: grpc-js takes a falsy request as no request at all.
      requestDeserialize: (b: Buffer) => ({ service: decodeHealthCheckRequest(b) }),
      responseSerialize: (status: number) => encodeHealthCheckResponse(status),
      responseDeserialize: (b: Buffer) => b,
    },
  };
  server.addService(definition, {
    Check: (call: grpc.ServerUnaryCall<{ service: string }, number>, callback: grpc.sendUnaryData<number>) => {
      const { service } = call.request;
      calls.set(service, (calls.get(service) ?? 0) + 1);
      const status = statuses.get(service);
      if (status === 'hang') return;
      if (status === undefined) {
        callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' });
        return;
      }
      callback(null, SERVING_STATUS.indexOf(status));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
  return {
    port,
    set: (service, status) => statuses.set(service, status),
    calls,
    close: async () => server.forceShutdown(),
  };
}
