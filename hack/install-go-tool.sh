#!/usr/bin/env bash
# Installs a Go command from the Go module proxy into the ksleuth cache, once, and prints the
# path of the binary as its last line. The tools the tests use beside the control plane:
#   bash hack/install-go-tool.sh kube-score github.com/zegl/kube-score/cmd/kube-score v1.20.0
set -euo pipefail

name=$1 package=$2 version=$3
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
cache_root=${KSLEUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksleuth}
dir="$cache_root/tools/$name-$version"
binary="$dir/$name"

if [ ! -x "$binary" ]; then
  command -v go >/dev/null || { echo "[install-$name] Go is required: install Go >= 1.23" >&2; exit 1; }
  echo "[install-$name] installing $name $version into $dir (first run only)" >&2
  mkdir -p "$dir"
  GOBIN="$dir" go install -trimpath -ldflags "-s -w" "$package@$version" >&2
fi
echo "$binary"
