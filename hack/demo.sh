#!/usr/bin/env bash
# The main job (npm run demo): installs what it needs, builds the control plane on first run,
# then runs the demo. Arguments pass through (npm run demo -- --keep).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash hack/install-deps.sh
KSLEUTH_BIN_DIR=$(bash hack/build-binaries.sh | tail -n 1)
export KSLEUTH_BIN_DIR
exec npx tsx hack/demo.ts "$@"
