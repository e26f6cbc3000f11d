#!/usr/bin/env bash
# The local Kubernetes control plane of the end-to-end tests: real kube-apiserver, kube-controller-manager,
# kube-scheduler and etcd, run by kwokctl's binary runtime on 127.0.0.1, with kwok faking one node so that pods
# are scheduled, "run" and succeed, and the Job, TTL-after-finished and garbage-collector controllers act.
#
#   cluster.sh start   build the binaries if needed (tens of minutes the first time), start the cluster
#                      (idempotent), add the fake node, and print the kubeconfig path
#   cluster.sh stop    delete the cluster and everything it wrote
#   cluster.sh status  exit 0 when the cluster answers
#
# CONTROL_PLANE_CACHE (default .cache/control-plane) holds binaries, cluster state and the kubeconfig.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$here/versions.env"
cache="${CONTROL_PLANE_CACHE:-$root/.cache/control-plane}"
bin="$cache/bin"
name="${CONTROL_PLANE_NAME:-kube-actions-runner-e2e}"
kubeconfig="$cache/$name.kubeconfig"
export KWOK_WORKDIR="$cache/kwok"
kwokctl="$bin/kwokctl-$KWOK_VERSION"
kubectl="$bin/kubectl-$K8S_VERSION"

log() { printf '[control-plane] %s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

running() {
  [ -f "$kubeconfig" ] && [ -x "$kubectl" ] &&
    "$kubectl" --kubeconfig "$kubeconfig" --request-timeout=5s get --raw /readyz >/dev/null 2>&1
}

start() {
  CONTROL_PLANE_CACHE="$cache" bash "$here/build.sh" >&2
  if running; then
    log "cluster $name is already running"
  else
    # A cluster left stopped (or half made) by an earlier run is removed and made anew.
    "$kwokctl" delete cluster --name "$name" >/dev/null 2>&1 || true
    rm -f "$kubeconfig"
    local config="$cache/$name.kwok.yaml"
    cat >"$config" <<YAML
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokctlConfiguration
options:
  runtime: binary
  bindAddress: 127.0.0.1
  kubeApiserverBinary: $bin/kube-apiserver-$K8S_VERSION
  kubeControllerManagerBinary: $bin/kube-controller-manager-$K8S_VERSION
  kubeSchedulerBinary: $bin/kube-scheduler-$K8S_VERSION
  kubectlBinary: $kubectl
  kwokControllerBinary: $bin/kwok-$KWOK_VERSION
  etcdBinary: $bin/etcd-$ETCD_VERSION
  # For a real node (scripts/node/): its pods reach the API server by the kubernetes Service's address.
  kubeApiserverCertSANs: [10.0.0.1]
componentsPatches:
  # kwok plays only the nodes annotated as its own (kwokctl's binary runtime would have it manage all), so that
  # a real node's pods are left to its kubelet.
  - name: kwok-controller
    extraArgs:
      - { key: manage-all-nodes, value: "false", override: true }
      - { key: manage-nodes-with-annotation-selector, value: kwok.x-k8s.io/node=fake }
  # A real node's name does not resolve; the API server reaches its kubelet (logs, exec) by its address.
  - name: kube-apiserver
    extraArgs:
      - { key: kubelet-preferred-address-types, value: "InternalIP,Hostname" }
YAML
    log "starting cluster $name (Kubernetes $K8S_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION) on 127.0.0.1"
    "$kwokctl" create cluster --name "$name" --config "$config" --kubeconfig "$kubeconfig" --wait 120s \
      >"$cache/$name.create.log" 2>&1 || {
      cat "$cache/$name.create.log" >&2
      exit 1
    }
  fi
  # The fake node: kwok manages nodes carrying this annotation, marks them Ready, and plays their pods.
  "$kubectl" --kubeconfig "$kubeconfig" apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations:
    node.alpha.kubernetes.io/ttl: "0"
    kwok.x-k8s.io/node: fake
  labels:
    kubernetes.io/hostname: kwok-node-0
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
status:
  allocatable: { cpu: "32", memory: 256Gi, ephemeral-storage: 500Gi, pods: "110" }
  capacity: { cpu: "32", memory: 256Gi, ephemeral-storage: 500Gi, pods: "110" }
YAML
  "$kubectl" --kubeconfig "$kubeconfig" wait --for=condition=Ready node/kwok-node-0 --timeout=60s >/dev/null
  log "cluster $name is ready"
  echo "$kubeconfig"
}

stop() {
  if [ -x "$kwokctl" ]; then
    "$kwokctl" delete cluster --name "$name" >/dev/null 2>&1 || true
  fi
  rm -f "$kubeconfig"
  log "cluster $name stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
