#!/usr/bin/env bash
# Holds the real node's mount namespace (started by unshare --mount --propagation private, so no
# mount made here reaches the host). Mounts in it propagate among the node's own processes, as on
# a machine whose root is shared (HostToContainer and Bidirectional mounts work); the node's own
# directories go over the paths kubelet and containerd use. Writes its pid to READY_FILE once
# done, then waits until it is killed; the namespace and its mounts go with its last process.
# usage: node-namespace.sh READY_FILE TARGET=SOURCE...
set -euo pipefail
ready=$1
shift
mount --make-rshared /
for bind in "$@"; do
  mount --bind "${bind#*=}" "${bind%%=*}"
done
echo $$ > "$ready"
exec sleep infinity
