#!/bin/bash
# Installs everything berth needs on Debian 12, idempotently: the Debian packages of the node
# stack, Node.js 24 and the npm libraries (into ./node_modules), and a default CNI network.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

source "$top/scripts/lib/debs.sh"
ensure_debs berth runc crun conmon containernetworking-plugins iproute2 iptables util-linux mount attr coreutils perl-base ca-certificates openssl apparmor

# The guest of the `vm` runtime handler: QEMU, a kernel and an initramfs under /var/lib/berth/vm.
"$top/scripts/install-vm-guest.sh"

# Node.js 24 comes from the npm package `node`; npm ci is skipped when the lock file is unchanged.
stamp=node_modules/.berth-lock
if [ ! -x node_modules/node/bin/node ] || ! cmp -s package-lock.json "$stamp"; then
  echo "berth: installing Node.js 24 and libraries (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# The node dashboard's page (web/ → web/dist), rebuilt when its sources changed.
if [ ! -f web/dist/index.html ] || [ -n "$(find web/src web/index.html web/vite.config.ts package-lock.json -newer web/dist/index.html 2>/dev/null | head -1)" ]; then
  echo "berth: building the node dashboard (vite build)"
  node_modules/.bin/vite build --config web/vite.config.ts
fi

# A default bridge network when the node has none, as the kubelet's runtimes expect.
conf_dir=/etc/cni/net.d
if ! ls "$conf_dir"/*.conflist "$conf_dir"/*.conf >/dev/null 2>&1; then
  mkdir -p "$conf_dir"
  cp "$top/scripts/cni/10-berth-bridge.conflist" "$conf_dir/"
  echo "berth: installed $conf_dir/10-berth-bridge.conflist"
fi

# portmap sets route_localnet on the bridge so host ports answer on 127.0.0.1; without this rule
# (kube-proxy's fix for CVE-2020-8558) pods could reach services the host binds to loopback.
if command -v iptables >/dev/null; then
  rule=(INPUT ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP)
  iptables -C "${rule[@]}" 2>/dev/null || iptables -I "${rule[@]}"
fi
