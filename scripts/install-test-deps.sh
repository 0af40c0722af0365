#!/usr/bin/env bash
# Installs the Debian packages that the integration tests need to build images
# and serve them from a registry on loopback:
#   docker-registry  the OCI distribution server the pull tests talk to
#   apache2-utils    htpasswd -B, to write bcrypt password files for registry auth
#   busybox-static   a static /bin/busybox, the payload of the test images
#   skopeo, umoci    real tools that write image archives, for the import tests
# Idempotent: does nothing when every package is present, and runs
# apt-get update only when something has to be installed.
set -euo pipefail

source "$(dirname "$0")/lib/debs.sh"
ensure_debs install-test-deps docker-registry apache2-utils busybox-static skopeo umoci chromium
missing=("${ENSURE_DEBS_INSTALLED[@]}")
[ ${#missing[@]} -gt 0 ] || exit 0

# Debian's package starts a registry service on :5000 for the system; the tests
# run their own, so stop that one when a service manager started it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
  systemctl disable docker-registry >/dev/null 2>&1 || true
fi
echo "install-test-deps: done"
