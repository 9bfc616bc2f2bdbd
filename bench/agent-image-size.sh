#!/usr/bin/env bash
# What each tool costs in the agent image: installs each Debian package the agent's Dockerfile
# names, alone, on debian:bookworm-slim (the base image hack/build-images.sh makes) with the
# Dockerfile's apt-get options, and prints how much the root filesystem grows and how many
# packages come with it; then all of them together, and the sizes of both images and of what the
# agent image carries besides its tools. Needs root and the images (it builds them if needed).
# usage: bash bench/agent-image-size.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -z "${KSLEUTH_BENCH_NAMESPACE:-}" ]; then
  bash "$root/hack/build-images.sh" >/dev/null
  KSLEUTH_BENCH_NAMESPACE=1 exec unshare --mount --propagation private bash "${BASH_SOURCE[0]}" "$@"
fi
export BUILDAH_ISOLATION=chroot
cache_root=${KSLEUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksleuth}
work=$(mktemp -d)
bh() { buildah --root "$cache_root/buildah/storage" --runroot "$work/run" --storage-driver overlay "$@"; }
cleanup() {
  bh rm --all >/dev/null 2>&1 || true
  bh rmi localhost/ksleuth-bench-apt >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/archives"

# The tools, as images/agent.Dockerfile installs them (util-linux and tar are in the base already).
tools=(bpftrace linux-perf iproute2 procps pciutils openssl util-linux tar)
install() {
  local ctr=$1
  shift
  bh run --network host --volume "$work/archives:/var/cache/apt/archives" "$ctr" -- sh -c \
    "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $* >/dev/null 2>&1 && dpkg-query -W | wc -l"
}
size_kib() { bh run --network host "$1" -- du -sxk / | cut -f1; }

base=$(bh from --pull=never docker.io/library/debian:bookworm-slim)
bh run --network host "$base" -- apt-get update -qq >/dev/null
bh commit --quiet --rm "$base" localhost/ksleuth-bench-apt >/dev/null
probe=$(bh from --pull=never localhost/ksleuth-bench-apt)
base_kib=$(size_kib "$probe")
base_packages=$(bh run --network host "$probe" -- sh -c 'dpkg-query -W | wc -l')
bh rm "$probe" >/dev/null

printf '%-12s %10s %9s\n' tool MiB packages
for tool in "${tools[@]}" all; do
  ctr=$(bh from --pull=never localhost/ksleuth-bench-apt)
  if [ "$tool" = all ]; then packages=$(install "$ctr" "${tools[@]}"); else packages=$(install "$ctr" "$tool"); fi
  kib=$(size_kib "$ctr")
  bh rm "$ctr" >/dev/null
  printf '%-12s %10.1f %9d\n' "$tool" "$(echo "($kib - $base_kib) / 1024" | bc -l)" "$((packages - base_packages))"
done

echo
bh images --format '{{.Name}}:{{.Tag}} {{.Size}}' | grep -E 'ksleuth-(agent|operator)|debian|node|distroless' | sort
agent=$(bh from --pull=never ghcr.io/ksleuth/ksleuth-agent:0.1.0)
echo
echo "in the agent image:"
bh run --network host "$agent" -- du -sh /usr/local/bin/node /app/node_modules /app/dist
bh rm "$agent" >/dev/null
