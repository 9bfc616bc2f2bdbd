#!/usr/bin/env bash
# Builds the local control plane and a real node from Go modules (no Docker, no prebuilt downloads):
# etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, kubelet, kube-proxy,
# helm, kwok, kwokctl, and containerd 2 with its runc shim and ctr.
# Builds once into a cache keyed by hack/versions.env and reuses it afterwards.
# Prints the directory holding the binaries as its last line.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-mod=mod
key=$(sha256sum < "$here/versions.env" | cut -c1-12)
cache_root=${KSLEUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksleuth}
bin_dir="$cache_root/bin-$key"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kubelet kube-proxy helm kwok kwokctl
  containerd containerd-shim-runc-v2 ctr)

log() { printf '[build-binaries] %s\n' "$*" >&2; }

all_present() {
  local b
  for b in "${binaries[@]}"; do [ -x "$bin_dir/$b" ] || return 1; done
}

if all_present; then
  echo "$bin_dir"
  exit 0
fi

command -v go >/dev/null || { log "Go is required to build the control plane: install Go >= 1.26 (https://go.dev/dl)"; exit 1; }
mkdir -p "$bin_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$(date +%s)

build_kubernetes() {
  local minor=${KUBERNETES_VERSION#v1.}; minor=${minor%%.*}
  local patch=${KUBERNETES_VERSION##*.}
  local staging="v0.$minor.$patch"
  local mod="$work/kubernetes"
  mkdir -p "$mod"
  (
    cd "$mod"
    go mod init ksleuth.local/kubernetes-build >/dev/null 2>&1
    # k8s.io/kubernetes requires its staging modules at v0.0.0 and replaces them with
    # ./staging paths that do not exist in the module zip; pin each to the release.
    local gomod
    gomod=$(curl -fsSL "$(go env GOPROXY | cut -d, -f1)/k8s.io/kubernetes/@v/$KUBERNETES_VERSION.mod")
    local staged
    staged=$(printf '%s\n' "$gomod" | sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p')
    [ -n "$staged" ] || { log "could not read the staging modules of k8s.io/kubernetes $KUBERNETES_VERSION"; exit 1; }
    local m
    for m in $staged; do go mod edit -replace "$m=$m@$staging"; done
    go mod edit -require "k8s.io/kubernetes@$KUBERNETES_VERSION"
    cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/cmd/kubelet"
	_ "k8s.io/kubernetes/cmd/kube-proxy"
)
GO
    go mod tidy -e >/dev/null 2>&1 || true
    go mod download
    local major=1
    local date
    date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    local ld="-s -w"
    local p
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ld="$ld -X $p.gitVersion=$KUBERNETES_VERSION -X $p.gitMajor=$major -X $p.gitMinor=$minor"
      ld="$ld -X $p.gitTreeState=clean -X $p.buildDate=$date"
    done
    go build -trimpath -ldflags "$ld" -o "$bin_dir/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl \
      k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
  )
}

build_etcd() {
  local mod="$work/etcd"
  mkdir -p "$mod"
  (
    cd "$mod"
    go mod init ksleuth.local/etcd-build >/dev/null 2>&1
    cat > tools.go <<'GO'
//go:build tools

package tools

import _ "go.etcd.io/etcd/server/v3"
GO
    go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
    go build -trimpath -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" \
      -o "$bin_dir/etcd" go.etcd.io/etcd/server/v3
  )
}

build_go_installable() {
  GOBIN="$bin_dir" go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  GOBIN="$bin_dir" go install -trimpath \
    -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=$KUBERNETES_VERSION" \
    "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK_VERSION"
}

# containerd 2 rather than Debian's 1.6: kubelet 1.38 drops the fallback that lets 1.6 (no
# RuntimeConfig RPC) work, and 2.x is what current distributions and managed clusters run.
build_containerd() {
  GOBIN="$bin_dir" go install -trimpath -tags no_btrfs,no_devmapper,no_zfs \
    -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION"
}

log "building the control plane into $bin_dir (first run only; this takes a while)"
[ -x "$bin_dir/etcd" ] || build_etcd
[ -x "$bin_dir/helm" ] && [ -x "$bin_dir/kwok" ] && [ -x "$bin_dir/kwokctl" ] || build_go_installable
[ -x "$bin_dir/containerd" ] && [ -x "$bin_dir/containerd-shim-runc-v2" ] && [ -x "$bin_dir/ctr" ] || build_containerd
[ -x "$bin_dir/kube-apiserver" ] && [ -x "$bin_dir/kubelet" ] && [ -x "$bin_dir/kube-proxy" ] || build_kubernetes
all_present || { log "some binaries are missing in $bin_dir after the build"; exit 1; }
log "built in $(( $(date +%s) - started ))s"
echo "$bin_dir"
