#!/bin/bash
# The main job on its defaults: install everything, start berth daemon (config /etc/berth/config.toml
# when present, else the defaults), load a sample image built from Debian's busybox and run a
# sample pod from it — offline.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/install.sh"
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' ||
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -q busybox-static >/dev/null; }

berth="$top/bin/berth"
sock=/run/berth/berth.sock
log=/var/log/berth.log
export CONTAINER_RUNTIME_ENDPOINT="unix://$sock"

if ! "$berth" version >/dev/null 2>&1; then
  echo "berth: starting the daemon (log: $log)"
  setsid "$berth" daemon </dev/null >>"$log" 2>&1 &
  for _ in $(seq 1 100); do "$berth" version >/dev/null 2>&1 && break; sleep 0.1; done
fi
"$berth" version

sample=/var/lib/berth-sample/busybox.tar
mkdir -p "$(dirname "$sample")"
[ -f "$sample" ] || "$top/node_modules/node/bin/node" "$top/scripts/sample-image.ts" "$sample" >/dev/null
"$berth" image import "$sample"

if [ -z "$("$berth" pods --name berth-sample --state ready -q)" ]; then
  pod=$("$berth" runp "$top/scripts/sample/pod.json")
  ctr=$("$berth" create --no-pull "$pod" "$top/scripts/sample/container.json" "$top/scripts/sample/pod.json")
  "$berth" start "$ctr" >/dev/null
  sleep 1
fi
echo
"$berth" images
echo
"$berth" pods
echo
"$berth" ps
ctr=$("$berth" ps --name hello -q | head -1)
echo
"$berth" logs --tail 3 "$ctr"
"$berth" exec -s "$ctr" sh -c 'echo "inside: $(hostname), $(ip -4 -o addr show eth0 | awk "{print \$4}")"'
echo
echo "berth daemon is running on unix://$sock; try: $berth info, $berth ps, $berth logs -f '$ctr', crictl -r unix://$sock pods"
