#!/usr/bin/env bash
# A real node in the end-to-end control plane (scripts/control-plane/cluster.sh): containerd and runc start the
# pods, the CNI bridge plugin puts each in a network namespace of its own on the bridge kar0, the kubelet joins
# the cluster and kube-proxy (iptables) makes Services work. Pod traffic stays on this machine.
#
#   node.sh start   build what is missing (scripts/node/build.sh), start the node (idempotent), wait until it is
#                   Ready, and print key=value lines: node, kubeconfig, pause_image, busybox_image
#   node.sh stop    remove the node's pods, stop its processes, remove the bridge, the rules and the node's state
#   node.sh status  exit 0 when the node's processes run and its kubelet is healthy
#   node.sh import ARCHIVE...
#                   import OCI or Docker image archives (scripts/images/build.sh's archives/) into the running
#                   node's containerd, under the names their indexes give; pods run them with no registry
#
# The cluster must be running (same CONTROL_PLANE_CACHE and CONTROL_PLANE_NAME). One node per machine: the bridge
# and the addresses are fixed. Addresses come from a benchmarking range (198.18.0.0/15, RFC 2544), so none can
# be mistaken for another network's: the bridge (and node IP) is 198.18.0.1/16, pods get 198.18.1.0/24.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"

cluster="${CONTROL_PLANE_NAME:-kube-actions-runner-e2e}"
admin_kubeconfig="$cache/$cluster.kubeconfig"
pki="$cache/kwok/clusters/$cluster/pki"
node="${NODE_NAME:-kar-node-0}"
bridge=kar0
node_ip=198.18.0.1
state="$cache/node"
run=/run/kar-node
sock="$run/containerd/containerd.sock"
kubectl="$bin/kubectl-$K8S_VERSION"
ctr=("$bin/ctr-$CONTAINERD_VERSION" --address "$sock" --namespace k8s.io)
# The kubelet sets these kernel tunables (pkg/kubelet/cm/container_manager_linux.go); we set the networking
# ones. Their values before the node started are kept, and put back on stop.
sysctls=(net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables vm/overcommit_memory vm/panic_on_oom
  kernel/panic kernel/panic_on_oops kernel/keys/root_maxkeys kernel/keys/root_maxbytes)

k() { "$kubectl" --kubeconfig "$admin_kubeconfig" --request-timeout=10s "$@"; }
alive() { [ -f "$state/pids/$1" ] && kill -0 "$(cat "$state/pids/$1")" 2>/dev/null; }

# launch NAME COMMAND...: starts COMMAND in a session of its own (so it outlives the caller), logs to logs/NAME.log.
launch() {
  local name=$1
  shift
  setsid "$@" </dev/null >"$state/logs/$name.log" 2>&1 &
  echo $! >"$state/pids/$name"
}

# wait_for WHAT SECONDS COMMAND...: retries COMMAND every half second; fails with WHAT after SECONDS.
wait_for() {
  local what=$1 deadline=$(($(date +%s) + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "timed out waiting for $what; logs in $state/logs"
      return 1
    fi
    sleep 0.5
  done
}

no_tasks() { [ -z "$("${ctr[@]}" tasks ls -q 2>/dev/null)" ]; }
kube_proxy_synced() { iptables -w -t nat -S PREROUTING | grep -q -- '-j KUBE-SERVICES'; }

running() {
  alive containerd && alive kubelet && alive kube-proxy &&
    curl -fsS --max-time 3 http://127.0.0.1:10248/healthz >/dev/null 2>&1
}

# client_cert NAME SUBJECT: a client certificate signed by the cluster's CA, as the API server authenticates them.
client_cert() {
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$2" \
    -keyout "$state/pki/$1.key" -out "$state/pki/$1.csr" 2>/dev/null
  openssl x509 -req -in "$state/pki/$1.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -set_serial "0x$(openssl rand -hex 16)" \
    -days 30 -extfile <(printf 'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n') \
    -out "$state/pki/$1.crt" 2>/dev/null
}

# kubeconfig NAME SERVER: a kubeconfig for the client certificate NAME.
kubeconfig() {
  cat >"$state/$1.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters: [{ name: $cluster, cluster: { server: "$2", certificate-authority: "$pki/ca.crt" } }]
users: [{ name: $1, user: { client-certificate: "$state/pki/$1.crt", client-key: "$state/pki/$1.key" } }]
contexts: [{ name: $1, context: { cluster: $cluster, user: $1 } }]
current-context: $1
YAML
}

write_containerd_config() {
  mkdir -p "$state/bin" "$state/cni/net.d" "$state/certs.d/127.0.0.1:5100"
  # containerd finds its shim, and the shim runc, on PATH by their plain names.
  ln -sf "$bin/containerd-shim-runc-v2-$CONTAINERD_VERSION" "$state/bin/containerd-shim-runc-v2"
  ln -sf "$bin/runc-$RUNC_VERSION" "$state/bin/runc"
  ln -sf "$bin/ctr-$CONTAINERD_VERSION" "$state/bin/ctr"
  # The local registry (a later step of issue 34) serves plain HTTP on loopback.
  cat >"$state/certs.d/127.0.0.1:5100/hosts.toml" <<'TOML'
server = "http://127.0.0.1:5100"
[host."http://127.0.0.1:5100"]
  capabilities = ["pull", "resolve"]
TOML
  cat >"$state/containerd.toml" <<TOML
version = 3
root = "$state/containerd"
state = "$run/containerd"
disabled_plugins = ["io.containerd.nri.v1.nri"]

[grpc]
  address = "$sock"

[plugins.'io.containerd.internal.v1.opt']
  path = "$state/opt"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = "$pause_image"
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = "$state/certs.d"

[plugins.'io.containerd.cri.v1.runtime']
  # This machine's root lacks CAP_SYS_RESOURCE, so runc cannot give a container an oom_score_adj below
  # containerd's own ("nsexec: failed to update /proc/self/oom_score_adj: Permission denied").
  restrict_oom_score_adj = true
  # Network namespaces under our state folder, so that stop finds and removes every one.
  netns_mounts_under_state_dir = true
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = "$bin/runc-$RUNC_VERSION"
        # cgroups v1 here, without systemd: the kubelet's cgroupDriver is cgroupfs too.
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ["$cni_bin"]
    conf_dir = "$state/cni/net.d"

[plugins.'io.containerd.grpc.v1.cri']
  stream_server_address = "127.0.0.1"
TOML
  # containerd adds the loopback interface with the loopback plugin itself; portmap serves hostPort.
  cat >"$state/cni/net.d/10-kar.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "kar",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$bridge",
      "isGateway": true,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$state/cni/ipam",
        "ranges": [[{ "subnet": "198.18.0.0/16", "rangeStart": "198.18.1.1", "rangeEnd": "198.18.1.254", "gateway": "$node_ip" }]],
        "routes": [{ "dst": "0.0.0.0/0" }]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
}

write_kubelet_config() {
  cat >"$state/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$sock
cgroupDriver: cgroupfs
# Kubernetes 1.35 refuses cgroups v1 unless told otherwise; 1.34 only warns.
failCgroupV1: false
failSwapOn: false
# The kubelet would lower its own oom_score_adj to -999, which needs CAP_SYS_RESOURCE.
oomScoreAdj: 0
address: $node_ip
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
# The API server calls the kubelet without a client certificate (kwokctl gives it none), so the kubelet answers
# anonymous requests; pods are kept away from its port by a rule of ours (see start_rules).
authentication:
  anonymous: { enabled: true }
  webhook: { enabled: false }
authorization:
  mode: AlwaysAllow
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
# A test node on a shared disk: evict only when nearly full, and keep our imported images.
evictionHard: { memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1% }
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
nodeStatusUpdateFrequency: 10s
serializeImagePulls: false
YAML
}

write_kube_proxy_config() {
  cat >"$state/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: $state/kube-proxy.kubeconfig
hostnameOverride: $node
clusterCIDR: 198.18.1.0/24
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Without CAP_SYS_RESOURCE kube-proxy cannot lower its oom_score_adj; 0 leaves the machine's conntrack
# settings as they are.
oomScoreAdj: 0
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
# No NodePorts on 127.0.0.1: kube-proxy would turn on route_localnet for every interface.
iptables: { localhostNodePorts: false }
nodePortAddresses: ["$node_ip/32"]
YAML
}

# Our own rules, each tagged with a comment so that stop removes exactly them.
our_rules() {
  local api_ip=$1 api_port=$2 uplink
  # The API server listens on 127.0.0.1 only, and advertises an address it does not listen on (kwokctl's
  # binary runtime). Pods reach the kubernetes Service (default/kubernetes) through this rule, ahead of
  # kube-proxy's: DNAT to loopback needs route_localnet on the bridge.
  echo "nat PREROUTING -i $bridge -d $api_ip/32 -p tcp --dport 443 -j DNAT --to-destination 127.0.0.1:$api_port"
  # Only the API server (from this machine) may call the kubelet, which answers anonymous requests.
  echo "filter INPUT -i $bridge -p tcp --dport 10250 -j DROP"
  # Pod traffic stays on this machine: nothing from the bridge leaves by the default route.
  uplink=$(ip -4 route show default | sed -n 's/.* dev \([^ ]*\).*/\1/p' | head -1)
  if [ -n "$uplink" ]; then echo "filter FORWARD -i $bridge -o $uplink -j DROP"; fi
}

start_rules() {
  local api_ip api_port table chain spec
  api_ip=$(k get service kubernetes -n default -o jsonpath='{.spec.clusterIP}')
  api_port=$(k config view --minify -o jsonpath='{.clusters[0].cluster.server}' | sed 's#.*:##')
  echo 1 >"/proc/sys/net/ipv4/conf/$bridge/route_localnet"
  our_rules "$api_ip" "$api_port" >"$state/rules"
  while read -r table chain spec; do
    # shellcheck disable=SC2086 # spec is a list of iptables arguments
    iptables -w -t "$table" -C "$chain" $spec -m comment --comment kar-node 2>/dev/null ||
      iptables -w -t "$table" -I "$chain" 1 $spec -m comment --comment kar-node
  done <"$state/rules"
}

# The kubelet's own chains, which it leaves behind (pkg/kubelet/kubelet_network_linux.go).
stop_kubelet_chains() {
  local tool table chain
  for tool in iptables ip6tables; do
    for table in filter nat mangle; do
      "$tool" -w -t "$table" -D INPUT -j KUBE-FIREWALL 2>/dev/null || true
      "$tool" -w -t "$table" -D OUTPUT -j KUBE-FIREWALL 2>/dev/null || true
      for chain in KUBE-FIREWALL KUBE-KUBELET-CANARY KUBE-IPTABLES-HINT; do
        if "$tool" -w -t "$table" -F "$chain" 2>/dev/null; then "$tool" -w -t "$table" -X "$chain" 2>/dev/null || true; fi
      done
    done
  done
}

stop_rules() {
  [ -f "$state/rules" ] || return 0
  local table chain spec
  while read -r table chain spec; do
    # shellcheck disable=SC2086
    iptables -w -t "$table" -D "$chain" $spec -m comment --comment kar-node 2>/dev/null || true
  done <"$state/rules"
}

start() {
  CONTROL_PLANE_CACHE="$cache" bash "$node_dir/build.sh" >&2
  if [ ! -f "$admin_kubeconfig" ] || ! k get --raw /readyz >/dev/null 2>&1; then
    echo "node.sh: cluster $cluster is not running; start it with scripts/control-plane/cluster.sh start" >&2
    exit 1
  fi
  # A node whose cluster was made anew since it started holds certificates of the old cluster's CA: restarted.
  if running && k get node "$node" >/dev/null 2>&1; then
    log "node $node is already running"
  else
    # What an earlier run left half made is removed first.
    stop >/dev/null 2>&1 || true
    local t0
    t0=$(date +%s)
    mkdir -p "$state/pids" "$state/logs" "$state/pki" "$run"
    local s
    for s in "${sysctls[@]}"; do echo "$s $(cat "/proc/sys/$s")"; done >"$state/sysctls"
    echo 1 >/proc/sys/net/ipv4/ip_forward
    # Bridged pod-to-pod traffic must pass iptables, or a Service's DNAT is not undone for a pod on the same bridge.
    [ -e /proc/sys/net/bridge ] || modprobe br_netfilter
    echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
    ip link add "$bridge" type bridge
    ip addr add "$node_ip/16" dev "$bridge"
    ip link set "$bridge" up

    write_containerd_config
    PATH="$state/bin:$PATH" launch containerd "$bin/containerd-$CONTAINERD_VERSION" --config "$state/containerd.toml"
    wait_for "containerd" 30 "${ctr[@]}" version
    local archive
    for archive in "$pause_archive" "$images/busybox-$(busybox_tag).tar"; do
      "${ctr[@]}" images import "$archive" >/dev/null 2>>"$state/logs/ctr.log" || {
        cat "$state/logs/ctr.log" >&2
        exit 1
      }
    done
    log "containerd $CONTAINERD_VERSION is up with our images ($(($(date +%s) - t0)) s)"

    local server
    server=$(k config view --minify -o jsonpath='{.clusters[0].cluster.server}')
    client_cert kubelet "/O=system:nodes/CN=system:node:$node"
    client_cert kube-proxy "/CN=system:kube-proxy"
    kubeconfig kubelet "$server"
    kubeconfig kube-proxy "$server"
    write_kubelet_config
    write_kube_proxy_config
    launch kubelet "$bin/kubelet-$K8S_VERSION" --config "$state/kubelet.yaml" --kubeconfig "$state/kubelet.kubeconfig" \
      --root-dir "$state/kubelet" --cert-dir "$state/pki/kubelet-serving" --node-ip "$node_ip" \
      --hostname-override "$node" --node-labels "kube-actions-runner.dev/node=real" --v 1
    launch kube-proxy "$bin/kube-proxy-$K8S_VERSION" --config "$state/kube-proxy.yaml" --v 1
    wait_for "node $node to register" 60 k get node "$node"
    k wait --for=condition=Ready "node/$node" --timeout=120s >/dev/null
    wait_for "kube-proxy" 60 curl -fsS --max-time 2 http://127.0.0.1:10256/healthz
    # Our rules go ahead of kube-proxy's, which it adds only when they are missing.
    wait_for "kube-proxy's rules" 30 kube_proxy_synced
    start_rules
    log "node $node is Ready (kubelet and kube-proxy $K8S_VERSION, containerd $CONTAINERD_VERSION, runc $RUNC_VERSION) in $(($(date +%s) - t0)) s"
  fi
  echo "node=$node"
  echo "kubeconfig=$admin_kubeconfig"
  echo "pause_image=$pause_image"
  echo "busybox_image=kar.local/busybox:$(busybox_tag)"
}

# stop_process NAME: SIGTERM, then SIGKILL after 10 s.
stop_process() {
  alive "$1" || return 0
  local pid
  pid=$(cat "$state/pids/$1")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 20); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
  kill -9 "$pid" 2>/dev/null || true
}

stop() {
  # Pods first, while the kubelet still runs: it stops their sandboxes, and the CNI plugins undo their networks.
  if alive kubelet && [ -f "$admin_kubeconfig" ] && k get node "$node" >/dev/null 2>&1; then
    k delete pods --all-namespaces --field-selector "spec.nodeName=$node" --force --grace-period=0 --wait=false \
      >/dev/null 2>&1 || true
    wait_for "the node's pods to stop" 30 no_tasks || true
  fi
  if [ -f "$admin_kubeconfig" ]; then k delete node "$node" --ignore-not-found >/dev/null 2>&1 || true; fi
  stop_process kubelet
  if alive kube-proxy; then
    stop_process kube-proxy
    # Its Service rules go with it.
    "$bin/kube-proxy-$K8S_VERSION" --config "$state/kube-proxy.yaml" --cleanup >/dev/null 2>&1 || true
  fi
  # What the kubelet did not stop is killed; a shim exits once its tasks are gone.
  if alive containerd; then
    local task
    for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
      "${ctr[@]}" tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
    done
    sleep 1
    for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
      "${ctr[@]}" tasks delete -f "$task" >/dev/null 2>&1 || true
    done
  fi
  stop_process containerd
  # Shims still left (found by our containerd's socket, which is in their command line) are ended by their id.
  local pid
  for pid in $(grep -lsF -- "$sock" /proc/[0-9]*/cmdline | cut -d/ -f3); do
    kill -9 "$pid" 2>/dev/null || true
  done
  stop_rules
  stop_kubelet_chains
  # Mounts left under our folders (pod volumes, network namespaces, snapshots), deepest first.
  local m
  for m in $(awk -v s="$state/" -v r="$run/" 'index($5, s) == 1 || index($5, r) == 1 { print $5 }' /proc/self/mountinfo |
    sort -r); do
    umount -l "$m" 2>/dev/null || true
  done
  ip link del "$bridge" 2>/dev/null || true
  if [ -f "$state/sysctls" ]; then
    local s v
    while read -r s v; do echo "$v" >"/proc/sys/$s" 2>/dev/null || true; done <"$state/sysctls"
  fi
  rm -rf "$state" "$run"
  # libcni's cache folder, which containerd makes and leaves empty.
  rmdir /var/lib/cni/results /var/lib/cni 2>/dev/null || true
  log "node $node stopped"
}

# import ARCHIVE...: into the k8s.io namespace, the one the kubelet's images live in.
import_images() {
  running || { echo "node.sh: node $node is not running; start it with node.sh start" >&2; exit 1; }
  local archive t0
  for archive in "$@"; do
    t0=$(date +%s)
    "${ctr[@]}" images import "$archive" >/dev/null 2>>"$state/logs/ctr.log" || {
      echo "node.sh: could not import $archive:" >&2
      tail -5 "$state/logs/ctr.log" >&2
      exit 1
    }
    log "imported $(basename "$archive") ($(($(date +%s) - t0)) s)"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) running ;;
  import)
    shift
    import_images "$@"
    ;;
  *)
    echo "usage: $0 start|stop|status|import ARCHIVE..." >&2
    exit 2
    ;;
esac
