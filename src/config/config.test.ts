import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultConfig, parseConfig } from './config.ts';

test('an empty file gives the defaults', () => {
  assert.deepEqual(parseConfig(''), defaultConfig());
});

test('the documented keys are read', () => {
  const c = parseConfig(`
root = "/var/lib/b"
state = "/run/b"
socket = "/run/b/b.sock"
[image]
pull_progress_timeout = "30s"
[registries."registry.k8s.io"]
mirrors = ["http://127.0.0.1:5000"]
[cni]
conf_dir = "/etc/cni/x"
bin_dirs = ["/usr/lib/cni"]
`);
  assert.equal(c.root, '/var/lib/b');
  assert.equal(c.socket, '/run/b/b.sock');
  assert.equal(c.image.pull_progress_timeout_ms, 30_000);
  assert.deepEqual(c.registries['registry.k8s.io'], { mirrors: ['http://127.0.0.1:5000'], insecure: false });
  assert.deepEqual(c.cni, { conf_dir: '/etc/cni/x', bin_dirs: ['/usr/lib/cni'] });
});

test('unknown keys and bad values are named', () => {
  assert.throws(() => parseConfig('rot = "/x"'), /rot: unknown key/);
  assert.throws(() => parseConfig('[cni]\nconfdir = "/x"'), /cni\.confdir: unknown key/);
  assert.throws(() => parseConfig('root = "relative"'), /root: must be an absolute path/);
  assert.throws(() => parseConfig('[registries."docker.io"]\nmirrors = ["ftp://x"]'), /mirrors\[0\]: must be http/);
  assert.throws(() => parseConfig('[image]\npull_progress_timeout = "soon"'), /pull_progress_timeout: must be a duration/);
  assert.throws(() => parseConfig('root = '), /not valid TOML/);
});

test('the layer limits take sizes with units and counts', () => {
  const c = parseConfig(`
[image]
layer_max_size = "2GiB"
layer_max_entries = 5000
layer_max_path_depth = 40
layer_max_entry_metadata = 65536
min_free_space = "1GB"
`);
  assert.equal(c.image.layer_max_size, 2 * 1024 ** 3);
  assert.equal(c.image.layer_max_entries, 5000);
  assert.equal(c.image.layer_max_path_depth, 40);
  assert.equal(c.image.layer_max_entry_metadata, 65536);
  assert.equal(c.image.min_free_space, 1e9);
  assert.throws(() => parseConfig('[image]\nlayer_max_size = "lots"'), /layer_max_size: must be a size/);
  assert.throws(() => parseConfig('[image]\nlayer_max_entries = 0'), /layer_max_entries: must be a positive integer/);
});
