// The streaming server of berth daemon and berth dockershim, from the config's [streaming] table;
// each passes the backend that runs its sessions.
import type { Config } from '../config/config.ts';
import type { StreamBackend } from '../streaming/daemon/stream-backend.ts';
import { StreamingServer } from '../streaming/daemon/streaming-server.ts';
import type { Logger } from '../util/logger.ts';

export function startStreamingServer(config: Config, logger: Logger, backend: StreamBackend): Promise<StreamingServer> {
  const s = config.streaming;
  return StreamingServer.start({
    address: s.address,
    port: s.port,
    tlsCert: s.tls_cert || undefined,
    tlsKey: s.tls_key || undefined,
    idleTimeoutMs: s.idle_timeout_ms,
    tokenTtlMs: s.token_ttl_ms,
    maxSessions: s.max_sessions,
    maxBufferedBytes: s.max_buffered,
    logger,
    backend,
  });
}
