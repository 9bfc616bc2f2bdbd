#!/usr/bin/env bash
# Installs krew (sigs.k8s.io/krew), the kubectl plugin manager, from the Go module proxy into the
# ksleuth cache, once: the krew test installs the plugin archive with it as users would.
# Prints the path of the binary as its last line.
set -euo pipefail

KREW_VERSION=v0.4.3

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
cache_root=${KSLEUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksleuth}
dir="$cache_root/tools/krew-$KREW_VERSION"
binary="$dir/krew"

if [ ! -x "$binary" ]; then
  command -v go >/dev/null || { echo "[install-krew] Go is required: install Go >= 1.23" >&2; exit 1; }
  echo "[install-krew] installing krew $KREW_VERSION into $dir (first run only)" >&2
  mkdir -p "$dir"
  GOBIN="$dir" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/krew/cmd/krew@$KREW_VERSION" >&2
fi
echo "$binary"
