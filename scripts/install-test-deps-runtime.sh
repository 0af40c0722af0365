#!/usr/bin/env bash
# Installs the Debian packages that the runtime integration tests (test/runtime/) need:
#   runc            the OCI runtime the tests run containers with
#   conmon          the per-container monitor
#   busybox-static  a static /bin/busybox, the root filesystem of the test bundles
# Idempotent: does nothing when every package is present, and runs apt-get update only when
# something has to be installed.
set -euo pipefail

source "$(dirname "$0")/lib/debs.sh"
ensure_debs install-test-deps-runtime runc conmon busybox-static
