#!/usr/bin/env bash
# ksleuth on a kind cluster, on a machine with Docker: creates the cluster, builds the operator and
# agent images and loads them into it, installs the chart, applies an example investigation and
# waits for its findings. Not run by this project's CI (it needs a Docker engine); CI runs the chart
# on a real node of the local cluster instead (npm run cluster:up -- --real-node, docs/install.md).
#
# Needs: docker, kind (go install sigs.k8s.io/kind@latest), kubectl, helm.
# Settings (environment):
#   KSLEUTH_KIND_CLUSTER      cluster name (default ksleuth)
#   KSLEUTH_KIND_WORKERS      worker nodes besides the control plane (default 2)
#   KSLEUTH_KIND_PRIVILEGED   true runs the agent privileged instead of with its capability list
#                             (not needed; docs/security.md)
#   KSLEUTH_KIND_EXAMPLE      the investigation to apply (default manifests/examples/investigation-quick-health.yaml)
#   KSLEUTH_KIND_DELETE       true deletes the cluster at the end
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cluster=${KSLEUTH_KIND_CLUSTER:-ksleuth}
workers=${KSLEUTH_KIND_WORKERS:-2}
privileged=${KSLEUTH_KIND_PRIVILEGED:-false}
example=${KSLEUTH_KIND_EXAMPLE:-manifests/examples/investigation-quick-health.yaml}
namespace=ksleuth-system
tag=kind-$(git rev-parse --short HEAD 2>/dev/null || echo dev)

log() { printf '[kind] %s\n' "$*" >&2; }
need() { command -v "$1" >/dev/null || { log "$1 is required: $2"; exit 1; }; }
need docker "install Docker (https://docs.docker.com/engine/install/)"
need kind "go install sigs.k8s.io/kind@latest"
need kubectl "https://kubernetes.io/docs/tasks/tools/"
need helm "https://helm.sh/docs/intro/install/"
docker info >/dev/null 2>&1 || { log "the Docker engine is not reachable: start it, or check your permissions"; exit 1; }

if ! kind get clusters | grep -qx "$cluster"; then
  log "creating kind cluster $cluster with $workers workers"
  # kind nodes are containers on this machine's kernel. The agent's host paths are the node
  # container's, so pass the kernel's tracing, debug and boot files through to every node
  # (/lib/modules is passed by kind itself).
  mounts='    extraMounts:
      - {hostPath: /sys/kernel/tracing, containerPath: /sys/kernel/tracing}
      - {hostPath: /sys/kernel/debug, containerPath: /sys/kernel/debug}
      - {hostPath: /boot, containerPath: /boot, readOnly: true}'
  {
    printf 'kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n  - role: control-plane\n%s\n' "$mounts"
    for _ in $(seq 1 "$workers"); do printf '  - role: worker\n%s\n' "$mounts"; done
  } | kind create cluster --name "$cluster" --config -
fi
kubectl config use-context "kind-$cluster" >/dev/null

for component in operator agent; do
  image="ksleuth.local/ksleuth-$component:$tag"
  log "building $image"
  docker build -f "images/$component.Dockerfile" -t "$image" .
  kind load docker-image --name "$cluster" "$image"
done

log "installing the chart (agent.privileged=$privileged)"
helm upgrade --install ksleuth charts/ksleuth --namespace "$namespace" --create-namespace --wait --timeout 5m \
  --set operator.image.repository=ksleuth.local/ksleuth-operator,operator.image.tag="$tag",operator.image.pullPolicy=Never \
  --set agent.image.repository=ksleuth.local/ksleuth-agent,agent.image.tag="$tag",agent.image.pullPolicy=Never \
  --set agent.privileged="$privileged"
kubectl -n "$namespace" rollout status daemonset/ksleuth-agent --timeout=5m

nodes=$(kubectl get nodes --no-headers | wc -l)
log "waiting for $nodes agents to register their KernelNodes"
for _ in $(seq 1 60); do
  [ "$(kubectl get kernelnodes --no-headers 2>/dev/null | wc -l)" -ge "$nodes" ] && break
  sleep 5
done
kubectl get kernelnodes

name=$(kubectl create --dry-run=client -o jsonpath='{.metadata.name}' -f "$example")
log "applying $example ($name)"
kubectl delete kernelinvestigation "$name" --ignore-not-found --wait
kubectl apply -f "$example"
kubectl wait --for=condition=Complete "kernelinvestigation/$name" --timeout=10m
kubectl get kernelinvestigation "$name"
log "findings:"
kubectl get kernelinvestigation "$name" -o jsonpath='{range .status.findings[*]}{.severity}{"\t"}{.pattern}{"\t"}{.title}{"\n"}{end}'
kubectl describe kernelinvestigation "$name" | sed -n '/Findings:/,$p' | head -60

if [ "${KSLEUTH_KIND_DELETE:-false}" = true ]; then
  log "deleting kind cluster $cluster"
  kind delete cluster --name "$cluster"
else
  log "the cluster stays up: kind delete cluster --name $cluster"
fi
