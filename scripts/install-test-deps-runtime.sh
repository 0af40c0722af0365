#!/usr/bin/env bash
# Installs the Debian packages that the runtime integration tests (test/runtime/) need:
#   runc            the OCI runtime the tests run containers with
#   conmon          the per-container monitor
#   busybox-static  a static /bin/busybox, the root filesystem of the test bundles
# Idempotent: does nothing when every package is present, and runs apt-get update only when
# something has to be installed.
set -euo pipefail

packages=(runc conmon busybox-static)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-test-deps-runtime: all present (${packages[*]})"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

echo "install-test-deps-runtime: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "install-test-deps-runtime: done"
