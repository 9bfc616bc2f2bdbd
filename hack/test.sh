#!/usr/bin/env bash
# The test command. `npm test` (no arguments): installs what the tests need, builds the control
# plane, the real node's parts and the images on first run (cached afterwards), type-checks, lints,
# and runs every lane against real parts (the real-node lane last: the chart on a real node). With
# vitest arguments (`npm run test:e2e` is `hack/test.sh --project e2e`) it prepares the same way
# but leaves the type-check and lint to `npm run typecheck` and `npm run lint`.
# Lanes are the vitest projects in test/lanes.ts; `npm run test:unit` needs none of this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash hack/install-deps.sh
# The agent's native addon (dist/native/), which agents started from source load too.
node hack/build-native.mjs --required
KSLEUTH_BIN_DIR=$(bash hack/build-binaries.sh | tail -n 1)
export KSLEUTH_BIN_DIR
if [[ $# -eq 0 || " $* " == *" real-node "* ]]; then
  # The operator and agent images for the real-node lane (buildah; test/harness/images.ts finds
  # them in the cache).
  bash hack/build-images.sh >/dev/null
fi
if [[ $# -eq 0 ]]; then
  npx tsc --noEmit
  # Formatting and lint rules (biome.json); `npm run format` fixes what it can.
  npx biome check --error-on-warnings .
fi
# Every temporary file of the run goes here and goes away with it, whatever a test leaves.
TMPDIR=$(mktemp -d /tmp/ksleuth-test.XXXXXX)
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
npx vitest run "$@"
