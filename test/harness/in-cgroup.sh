#!/usr/bin/env bash
# Runs a command inside a cgroup (writing its pid to the cgroup's cgroup.procs first), so that it
# and everything it starts can be found and stopped by the cgroup, whatever happens to its parent.
# usage: in-cgroup.sh CGROUP_PROCS_FILE COMMAND [ARGS...]
set -euo pipefail
echo $$ > "$1"
shift
exec "$@"
