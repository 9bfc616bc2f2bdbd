#!/usr/bin/env bash
# Installs what ksleuth's commands and tests need on a fresh Debian/Ubuntu machine:
# the kernel tools (bpftrace, perf, trace-cmd, iproute2) from Debian packages, Chromium (the
# flame graph test clicks through an SVG in it), what the real node and the images need (runc,
# the CNI plugins, iptables and conntrack for kube-proxy, buildah and mmdebstrap to build the
# images without Docker) and the npm packages. Idempotent and quick when everything is present.
# The control-plane and node binaries are built separately, on first use, by hack/build-binaries.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '[install-deps] %s\n' "$*" >&2; }

# command -> Debian package
declare -A tools=(
  [bpftrace]=bpftrace
  [perf]=linux-perf
  [trace-cmd]=trace-cmd
  [ip]=iproute2
  [ss]=iproute2
  [openssl]=openssl
  [setpriv]=util-linux
  [lscpu]=util-linux
  [lspci]=pciutils
  [sysctl]=procps
  [tar]=tar
  # the agent's native addon (hack/build-native.mjs)
  [cc]=gcc
  [perl]=perl
  [chromium]=chromium
  # shell completion tests run the generated scripts in each shell
  [zsh]=zsh
  [fish]=fish
  # the CLI terminal test runs it under a pseudo-terminal
  [script]=bsdutils
  # the real node (test/harness/real-node.ts) and the images (hack/build-images.sh)
  [nsenter]=util-linux
  [runc]=runc
  [iptables]=iptables
  [conntrack]=conntrack
  [buildah]=buildah
  [mmdebstrap]=mmdebstrap
)
# file -> Debian package, for what is not a command on PATH
declare -A files=(
  [/usr/lib/cni/bridge]=containernetworking-plugins
  # the C library headers the native addon is built against (gcc only recommends them)
  [/usr/include/stdio.h]=libc6-dev
)
missing=()
for tool in "${!tools[@]}"; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${tools[$tool]}")
done
for file in "${!files[@]}"; do
  [ -e "$file" ] || missing+=("${files[$file]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" != 0 ]; then
    log "missing Debian packages: ${missing[*]}; install them as root: apt-get install -y ${missing[*]}"
    exit 1
  fi
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error >&2
fi

# tracefs is where ftrace captures live; mount it when the machine has not (root only).
if [ "$(id -u)" = 0 ] && [ ! -e /sys/kernel/tracing/trace ] && grep -qw tracefs /proc/filesystems; then
  mount -t tracefs nodev /sys/kernel/tracing 2>/dev/null || log "could not mount tracefs on /sys/kernel/tracing; ftrace captures will report it"
fi
