#!/usr/bin/env bash
# Builds the control plane used by the end-to-end tests from published Go modules:
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl (k8s.io/kubernetes), etcd, kwok and kwokctl.
# Binaries land in .cache/control-plane/bin/<component>-<version>; a binary already there is not rebuilt.
# The first build on a fresh machine takes tens of minutes on 2 cores; progress is printed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache="${CONTROL_PLANE_CACHE:-$root/.cache/control-plane}"
bin="$cache/bin"
work="$cache/work"
mkdir -p "$bin" "$work"
export CGO_ENABLED=0 GOFLAGS="-trimpath -mod=mod" GOTOOLCHAIN=local

if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: the Go toolchain is needed to build the control plane (go 1.24+); install it and retry" >&2
  exit 3
fi

log() { printf '[control-plane] %s %s\n' "$(date +%H:%M:%S)" "$*"; }

# make_module DIR MODULE VERSION [replace lines...]: a throwaway main module that requires MODULE@VERSION.
make_module() {
  local dir=$1 module=$2 version=$3
  shift 3
  mkdir -p "$dir"
  {
    echo "module kube-actions-runner.local/build"
    echo
    echo "go 1.24"
    echo
    echo "require $module $version"
    for r in "$@"; do echo "replace $r"; done
  } >"$dir/go.mod"
  touch "$dir/go.sum"
}

build_kubernetes() {
  local want=()
  for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
    [ -x "$bin/$c-$K8S_VERSION" ] || want+=("$c")
  done
  [ ${#want[@]} -eq 0 ] && { log "kubernetes $K8S_VERSION: cached"; return; }
  log "kubernetes $K8S_VERSION: downloading the module"
  local gomod
  gomod=$(cd "$work" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)",/\1/p')
  # k8s.io/kubernetes points its staging modules (k8s.io/api, k8s.io/client-go, ...) at ./staging/...;
  # each is published as v0.<minor>.<patch>, so replace every one of them with that version.
  local staging_version="v0.${K8S_VERSION#v1.}"
  local replaces=()
  while read -r mod; do
    replaces+=("$mod => $mod $staging_version")
  done < <(sed -n 's#^[[:space:]]*\(k8s\.io/[a-z0-9-]*\) => \./staging/.*#\1#p' "$gomod")
  log "kubernetes $K8S_VERSION: ${#replaces[@]} staging modules replaced with $staging_version"
  local dir="$work/kubernetes-$K8S_VERSION"
  make_module "$dir" k8s.io/kubernetes "$K8S_VERSION" "${replaces[@]}"
  local minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
  local ldflags="-s -w"
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for c in "${want[@]}"; do
    local pkg="k8s.io/kubernetes/cmd/$c"
    log "kubernetes $K8S_VERSION: building $c (several minutes each)"
    (cd "$dir" && go build -ldflags "$ldflags" -o "$bin/$c-$K8S_VERSION.tmp" "$pkg")
    mv "$bin/$c-$K8S_VERSION.tmp" "$bin/$c-$K8S_VERSION"
  done
}

build_etcd() {
  [ -x "$bin/etcd-$ETCD_VERSION" ] && { log "etcd $ETCD_VERSION: cached"; return; }
  log "etcd $ETCD_VERSION: building"
  local dir="$work/etcd-$ETCD_VERSION"
  # go.etcd.io/etcd/server/v3 has replace directives of its own, so `go install mod@version` is refused;
  # its sibling modules are published at the same version.
  make_module "$dir" go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
  (cd "$dir" && go build -ldflags "-s -w" -o "$bin/etcd-$ETCD_VERSION.tmp" go.etcd.io/etcd/server/v3)
  mv "$bin/etcd-$ETCD_VERSION.tmp" "$bin/etcd-$ETCD_VERSION"
}

build_kwok() {
  local dir="$work/kwok-$KWOK_VERSION"
  for c in kwok kwokctl; do
    [ -x "$bin/$c-$KWOK_VERSION" ] && { log "$c $KWOK_VERSION: cached"; continue; }
    log "$c $KWOK_VERSION: building"
    make_module "$dir" sigs.k8s.io/kwok "$KWOK_VERSION"
    (cd "$dir" && go build -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" \
      -o "$bin/$c-$KWOK_VERSION.tmp" "sigs.k8s.io/kwok/cmd/$c")
    mv "$bin/$c-$KWOK_VERSION.tmp" "$bin/$c-$KWOK_VERSION"
  done
}

started=$(date +%s)
build_etcd
build_kwok
build_kubernetes
log "done in $(( $(date +%s) - started )) s; binaries in $bin"
