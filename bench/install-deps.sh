#!/usr/bin/env bash
# Installs what the side-by-side benchmark needs, from Debian, idempotently:
#   containerd                   the peer runtime (the benchmark starts its own, with its own config)
#   runc                         the OCI runtime both runtimes use
#   conmon                       berth's per-container monitor
#   containernetworking-plugins  bridge, portmap, host-local and loopback in /usr/lib/cni
#   docker-registry              the registry on loopback that serves the images
#   docker.io                    the Docker Engine under berth dockershim and cri-dockerd (one of its own each)
#   busybox-static               the payload of the workload images
#   iproute2, iptables           network namespaces, bridges and NAT rules (and their cleanup)
#   util-linux, procps           setpriv, findmnt, umount; ps
# Runs apt-get only when something is missing. When this script installs containerd, docker.io or
# docker-registry, it stops and disables the system services that the Debian packages start:
# the benchmark runs its own, and an idle system daemon would only add noise.
set -euo pipefail

source "$(dirname "$0")/../scripts/lib/debs.sh"
ensure_debs bench/install-deps containerd runc conmon containernetworking-plugins docker-registry docker.io busybox-static iproute2 iptables util-linux procps
missing=("${ENSURE_DEBS_INSTALLED[@]}")
[ ${#missing[@]} -gt 0 ] || exit 0

if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  for pkg in "${missing[@]}"; do
    case "$pkg" in
      containerd | docker-registry)
        systemctl stop "$pkg" >/dev/null 2>&1 || true
        systemctl disable "$pkg" >/dev/null 2>&1 || true
        ;;
      docker.io)
        systemctl stop docker.socket docker >/dev/null 2>&1 || true
        systemctl disable docker.socket docker >/dev/null 2>&1 || true
        ;;
    esac
  done
fi
echo "bench/install-deps: done"
