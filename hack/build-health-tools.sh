#!/usr/bin/env bash
# Builds the two Go helpers the health tests run (hack/health-tools): kstatus (what
# sigs.k8s.io/cli-utils' kstatus computes for an object, as Flux and kpt do) and argocd-health
# (an Argo CD health check in Lua, run with gopher-lua as Argo CD runs it). Builds once into a
# cache keyed by the helpers' sources and go.sum, apart from the control plane's binaries.
# Prints the directory holding the binaries as its last line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src="$here/health-tools"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=readonly
key=$(cd "$src" && cat go.mod go.sum ./*/*.go | sha256sum | cut -c1-12)
cache_root=${KSLEUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksleuth}
bin_dir="$cache_root/tools/health-tools-$key"

built() { [ -x "$bin_dir/kstatus" ] && [ -x "$bin_dir/argocd-health" ]; }
if ! built; then
  command -v go >/dev/null || { echo "[build-health-tools] Go is required: install Go >= 1.26" >&2; exit 1; }
  mkdir -p "$cache_root/tools"
  # Test files that start at once build once: the second waits for the first.
  exec 9>"$bin_dir.lock"
  flock 9
  if ! built; then
    echo "[build-health-tools] building kstatus and argocd-health into $bin_dir (first run only)" >&2
    tmp="$bin_dir.tmp"
    rm -rf "$tmp" && mkdir -p "$tmp"
    (cd "$src" && go build -trimpath -ldflags "-s -w" -o "$tmp/" ./kstatus ./argocd-health) >&2
    rm -rf "$bin_dir" && mv "$tmp" "$bin_dir"
  fi
fi
echo "$bin_dir"
