#!/usr/bin/env bash
# Installs what the dockershim's tests need: Debian's Docker Engine (docker.io, 20.10), which the
# tests start themselves on their own socket, data root and exec root. Idempotent. A Docker
# service the package starts is stopped and disabled: the tests run their own engines.
set -euo pipefail
source "$(dirname "$0")/lib/debs.sh"
ensure_debs install-test-deps-docker docker.io
[ ${#ENSURE_DEBS_INSTALLED[@]} -gt 0 ] || exit 0
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker 2>/dev/null; then
  systemctl stop docker docker.socket || true
  systemctl disable docker docker.socket >/dev/null 2>&1 || true
fi
echo "install-test-deps-docker: done"
