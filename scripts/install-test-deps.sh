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

packages=(docker-registry apache2-utils busybox-static skopeo umoci)

missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-test-deps: all present (${packages[*]})"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  SUDO=sudo
else
  SUDO=
fi

echo "install-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"

# Debian's package starts a registry service on :5000 for the system; the tests
# run their own, so stop that one when a service manager started it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  $SUDO systemctl stop docker-registry || true
  $SUDO systemctl disable docker-registry >/dev/null 2>&1 || true
fi
echo "install-test-deps: done"
