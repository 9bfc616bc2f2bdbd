#!/usr/bin/env bash
# Runs a control-plane component and stops it when its owner process goes away, so a test
# run that dies never leaves an etcd or kube-apiserver behind. Owner 0 means "no owner".
# usage: supervise.sh OWNER_PID COMMAND [ARGS...]
owner=$1
shift
"$@" &
child=$!
stop() {
  kill -TERM "$child" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$child" 2>/dev/null || exit 0; sleep 0.1; done
  kill -KILL "$child" 2>/dev/null
  exit 0
}
trap stop TERM INT HUP
while kill -0 "$child" 2>/dev/null; do
  if [ "$owner" != 0 ] && ! kill -0 "$owner" 2>/dev/null; then stop; fi
  sleep 1 &
  wait $!
done
wait "$child"
