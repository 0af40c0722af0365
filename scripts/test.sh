#!/bin/bash
# Runs every test of berth: type check, lint, unit tests beside the code, integration tests
# under test/ against real runc, registries and daemons. Needs root; installs what it needs.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
"$top/scripts/install.sh"
"$top/scripts/install-test-deps.sh"
for extra in "$top"/scripts/install-test-deps-*.sh; do [ -x "$extra" ] && "$extra"; done

export PATH="$top/node_modules/.bin:$PATH"
# Every stage runs; the script fails at the end if any did.
failed=()
echo "== type check"
tsc -p . || failed+=("type check")
tsc -p web || failed+=("type check (dashboard)")
echo "== lint"
biome check --diagnostic-level=error src test bench scripts web || failed+=("lint")
echo "== tests"
mapfile -t files < <(find src test bench -name '*.test.ts' -not -path '*/node_modules/*' | sort)
node --disable-warning=ExperimentalWarning --test --test-concurrency=2 --test-timeout=600000 \
  --test-reporter=spec "$@" "${files[@]}" || failed+=("tests")
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
