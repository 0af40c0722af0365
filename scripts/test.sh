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
echo "== type check"
tsc -p .
echo "== lint"
biome check --diagnostic-level=error src test bench scripts
echo "== tests"
mapfile -t files < <(find src test bench -name '*.test.ts' -not -path '*/node_modules/*' | sort)
node --disable-warning=ExperimentalWarning --test --test-concurrency=2 --test-timeout=600000 \
  --test-reporter=spec "$@" "${files[@]}"
