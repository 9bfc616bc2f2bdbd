#!/usr/bin/env bash
# The test command (npm test): installs what the tests need, builds the control plane on first
# run (cached afterwards), type-checks, and runs the whole suite against real parts.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash hack/install-deps.sh
KSLEUTH_BIN_DIR=$(bash hack/build-binaries.sh | tail -n 1)
export KSLEUTH_BIN_DIR
npx tsc --noEmit
# Formatting and lint rules (biome.json); `npm run format` fixes what it can.
npx biome check --error-on-warnings .
# Every temporary file of the run goes here and goes away with it, whatever a test leaves.
TMPDIR=$(mktemp -d /tmp/ksleuth-test.XXXXXX)
export TMPDIR
trap 'rm -rf "$TMPDIR"' EXIT
npx vitest run "$@"
