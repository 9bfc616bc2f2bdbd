#!/usr/bin/env bash
# Installs kube-score (github.com/zegl/kube-score), the Kubernetes manifest linter the chart tests
# run over the rendered chart, from the Go module proxy into the ksleuth cache, once.
# Prints the path of the binary as its last line.
set -euo pipefail

KUBE_SCORE_VERSION=v1.20.0

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
cache_root=${KSLEUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksleuth}
dir="$cache_root/tools/kube-score-$KUBE_SCORE_VERSION"
binary="$dir/kube-score"

if [ ! -x "$binary" ]; then
  command -v go >/dev/null || { echo "[install-kube-score] Go is required: install Go >= 1.23" >&2; exit 1; }
  echo "[install-kube-score] installing kube-score $KUBE_SCORE_VERSION into $dir (first run only)" >&2
  mkdir -p "$dir"
  GOBIN="$dir" go install -trimpath -ldflags "-s -w" "github.com/zegl/kube-score/cmd/kube-score@$KUBE_SCORE_VERSION" >&2
fi
echo "$binary"
