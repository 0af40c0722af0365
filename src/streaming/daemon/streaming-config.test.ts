// The [streaming] table of the daemon's config.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultConfig, parseConfig } from '../../config/config.ts';

test('streaming defaults: loopback, any free port, no TLS, 4 h idle timeout, 1 min tokens, 256 sessions, 1 MiB unread', () => {
  assert.deepEqual(defaultConfig().streaming, {
    address: '127.0.0.1',
    port: 0,
    tls_cert: '',
    tls_key: '',
    idle_timeout_ms: 4 * 3_600_000,
    token_ttl_ms: 60_000,
    max_sessions: 256,
    max_buffered: 1024 * 1024,
  });
});

test('the [streaming] keys are read', () => {
  const c = parseConfig(`
[streaming]
address = "::1"
port = 10010
tls_cert = "/etc/berth/stream.crt"
tls_key = "/etc/berth/stream.key"
idle_timeout = "30m"
token_ttl = "30s"
max_sessions = 8
max_buffered = "4MiB"
`);
  assert.deepEqual(c.streaming, {
    address: '::1',
    port: 10010,
    tls_cert: '/etc/berth/stream.crt',
    tls_key: '/etc/berth/stream.key',
    idle_timeout_ms: 30 * 60_000,
    token_ttl_ms: 30_000,
    max_sessions: 8,
    max_buffered: 4 * 1024 * 1024,
  });
  assert.equal(parseConfig('[streaming]\nidle_timeout = "0"').streaming.idle_timeout_ms, 0);
});

test('bad [streaming] values are named', () => {
  assert.throws(() => parseConfig('[streaming]\naddress = "not an address!"'), /streaming\.address/);
  assert.throws(() => parseConfig('[streaming]\nport = 70000'), /streaming\.port/);
  assert.throws(() => parseConfig('[streaming]\nport = "80"'), /streaming\.port/);
  assert.throws(() => parseConfig('[streaming]\ntls_cert = "/x.crt"'), /tls_cert and tls_key go together/);
  assert.throws(() => parseConfig('[streaming]\ntls_cert = "x.crt"\ntls_key = "/x.key"'), /streaming\.tls_cert: must be an absolute path/);
  assert.throws(() => parseConfig('[streaming]\ntoken_ttl = "0"'), /streaming\.token_ttl/);
  assert.throws(() => parseConfig('[streaming]\nidle = "1m"'), /streaming\.idle: unknown key/);
  assert.throws(() => parseConfig('[streaming]\nmax_sessions = 0'), /streaming\.max_sessions/);
  assert.throws(() => parseConfig('[streaming]\nmax_buffered = "1KiB"'), /streaming\.max_buffered: must be at least 64KiB/);
});
