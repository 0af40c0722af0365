#!/usr/bin/env bash
# Installs what the integration tests against a real containerd (CLI, node agent, benchmarks) need:
#   containerd                   the CRI runtime the tests start with their own config (Debian's 1.6)
#   runc                         the OCI runtime containerd uses
#   containernetworking-plugins  bridge and host-local in /usr/lib/cni
#   iproute2, iptables           to remove network namespaces, the bridge and NAT rules after a test
# plus the image fixtures' packages (docker-registry, busybox-static, …: install-test-deps.sh).
# Idempotent: does nothing when every package is present, and runs apt-get update only when
# something has to be installed. Debian's containerd service is stopped and disabled: the tests run
# their own containerd.
set -euo pipefail
here=$(dirname "$(readlink -f "$0")")

"$here/install-test-deps.sh"

source "$(dirname "$0")/lib/debs.sh"
ensure_debs install-test-deps-containerd containerd runc containernetworking-plugins iproute2 iptables
missing=("${ENSURE_DEBS_INSTALLED[@]}")
[ ${#missing[@]} -gt 0 ] || exit 0

if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet containerd 2>/dev/null; then
  systemctl stop containerd || true
  systemctl disable containerd >/dev/null 2>&1 || true
fi
echo "install-test-deps-containerd: done"
