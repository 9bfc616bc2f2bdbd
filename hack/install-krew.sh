#!/usr/bin/env bash
# Installs krew (sigs.k8s.io/krew), the kubectl plugin manager, from the Go module proxy into the
# ksleuth cache, once: the krew test installs the plugin archive with it as users would.
# Prints the path of the binary as its last line.
set -euo pipefail
exec bash "$(dirname "${BASH_SOURCE[0]}")/install-go-tool.sh" krew sigs.k8s.io/krew/cmd/krew v0.4.3
