#!/usr/bin/env bash
# Builds the real node that joins the end-to-end control plane, from published Go modules and Debian packages:
# containerd with its runc shim and ctr, runc (with seccomp), the CNI plugins (bridge, host-local, loopback,
# portmap), the kubelet and kube-proxy (from the control plane's k8s.io/kubernetes module), our own pause binary,
# and two OCI image archives for containerd: the pause image and a busybox test image.
# Binaries land in $CONTROL_PLANE_CACHE/bin/<component>-<version> like the control plane's; one already there is
# not rebuilt. Each build prints its time.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "$0")/common.sh"
mkdir -p "$bin" "$work" "$images"
export GOFLAGS="-trimpath -mod=mod" GOTOOLCHAIN=local

if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: the Go toolchain is needed to build the node (go 1.26+); install it and retry" >&2
  exit 3
fi

# Debian packages: a C toolchain and libseccomp for runc's cgo, busybox-static for the test image, iptables
# for kube-proxy and the node's NAT rules.
debs=(gcc libc6-dev pkg-config libseccomp-dev busybox-static iptables)
missing=()
for d in "${debs[@]}"; do
  dpkg-query -W -f '${Status}' "$d" 2>/dev/null | grep -q 'install ok installed' || missing+=("$d")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "build.sh: the node needs these Debian packages: ${missing[*]}; install them and retry" >&2
    exit 3
  fi
  log "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# timed NAME COMMAND...: runs COMMAND and logs how long NAME took to build.
timed() {
  local what=$1 t0
  shift
  t0=$(date +%s)
  built=0
  "$@"
  if [ "$built" = 1 ]; then log "$what: built in $(($(date +%s) - t0)) s"; fi
}

# make_module DIR MODULE VERSION: a throwaway main module that requires MODULE@VERSION.
make_module() {
  mkdir -p "$1"
  printf 'module kube-actions-runner.local/build\n\ngo 1.26\n\nrequire %s %s\n' "$2" "$3" >"$1/go.mod"
  touch "$1/go.sum"
}

build_containerd() {
  local v=${CONTAINERD_VERSION#v} dir="$work/containerd-$CONTAINERD_VERSION" c
  local want=()
  for c in containerd containerd-shim-runc-v2 ctr; do
    [ -x "$bin/$c-$CONTAINERD_VERSION" ] || want+=("$c")
  done
  [ ${#want[@]} -eq 0 ] && { log "containerd $CONTAINERD_VERSION: cached"; return; }
  log "containerd $CONTAINERD_VERSION: building ${want[*]}"
  built=1
  make_module "$dir" github.com/containerd/containerd/v2 "$CONTAINERD_VERSION"
  local pkg=github.com/containerd/containerd/v2
  local ldflags="-s -w -X $pkg/version.Version=$v -X $pkg/version.Package=$pkg"
  # Static, as containerd's releases are; without cgo the btrfs snapshotter is left out, which the node does not use.
  mkdir -p "$dir/out"
  (cd "$dir" && CGO_ENABLED=0 go build -tags "no_devmapper no_zfs" -ldflags "$ldflags" -o out/ \
    "${want[@]/#/$pkg/cmd/}")
  for c in "${want[@]}"; do mv "$dir/out/$c" "$bin/$c-$CONTAINERD_VERSION"; done
}

build_runc() {
  [ -x "$bin/runc-$RUNC_VERSION" ] && { log "runc $RUNC_VERSION: cached"; return; }
  log "runc $RUNC_VERSION: building (cgo, seccomp)"
  built=1
  local dir="$work/runc-$RUNC_VERSION"
  make_module "$dir" github.com/opencontainers/runc "$RUNC_VERSION"
  # runc's Makefile builds with "seccomp urfave_cli_no_docs libpathrs"; libpathrs is a Rust library Debian 12
  # does not ship, and without it runc uses its Go fallback. Without seccomp, RuntimeDefault pods fail with
  # "config provided but seccomp not supported".
  (cd "$dir" && CGO_ENABLED=1 go build -buildmode=pie -tags "seccomp urfave_cli_no_docs" -ldflags "-s -w" \
    -o "$bin/runc-$RUNC_VERSION.tmp" github.com/opencontainers/runc)
  mv "$bin/runc-$RUNC_VERSION.tmp" "$bin/runc-$RUNC_VERSION"
}

build_cni_plugins() {
  local plugins=(main/bridge ipam/host-local main/loopback meta/portmap) want=() p
  for p in "${plugins[@]}"; do
    [ -x "$cni_bin/${p#*/}" ] || want+=("github.com/containernetworking/plugins/plugins/$p")
  done
  [ ${#want[@]} -eq 0 ] && { log "CNI plugins $CNI_PLUGINS_VERSION: cached"; return; }
  log "CNI plugins $CNI_PLUGINS_VERSION: building ${#want[@]} plugins"
  built=1
  local dir="$work/cni-plugins-$CNI_PLUGINS_VERSION"
  make_module "$dir" github.com/containernetworking/plugins "$CNI_PLUGINS_VERSION"
  mkdir -p "$dir/out" "$cni_bin"
  (cd "$dir" && CGO_ENABLED=0 go build -ldflags "-s -w \
    -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
    -o out/ "${want[@]}")
  for p in "${want[@]}"; do mv "$dir/out/${p##*/}" "$cni_bin/${p##*/}"; done
}

build_kubelet_and_kube_proxy() {
  local want=() c
  for c in kubelet kube-proxy; do
    [ -x "$bin/$c-$K8S_VERSION" ] || want+=("$c")
  done
  [ ${#want[@]} -eq 0 ] && { log "kubelet and kube-proxy $K8S_VERSION: cached"; return; }
  local dir="$work/kubernetes-$K8S_VERSION"
  if [ ! -f "$dir/go.mod" ]; then
    # The control plane's build writes the k8s.io/kubernetes module (with its staging replaces) we build from.
    CONTROL_PLANE_CACHE="$cache" bash "$root/scripts/control-plane/build.sh" >&2
  fi
  # The same version stamps as the control plane's build.sh.
  local minor=${K8S_VERSION#v1.}
  minor=${minor%%.*}
  local ldflags="-s -w" pkg
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  for c in "${want[@]}"; do
    log "$c $K8S_VERSION: building"
    local t0
    t0=$(date +%s)
    (cd "$dir" && CGO_ENABLED=0 go build -ldflags "$ldflags" -o "$bin/$c-$K8S_VERSION.tmp" "k8s.io/kubernetes/cmd/$c")
    mv "$bin/$c-$K8S_VERSION.tmp" "$bin/$c-$K8S_VERSION"
    log "$c $K8S_VERSION: built in $(($(date +%s) - t0)) s"
  done
}

build_pause() {
  if [ ! -x "$bin/pause-$pause_tag" ]; then
    gcc -static -Os -s -Wall -Wextra -Werror -o "$bin/pause-$pause_tag.tmp" "$node_dir/pause/pause.c"
    mv "$bin/pause-$pause_tag.tmp" "$bin/pause-$pause_tag"
  fi
  [ -f "$pause_archive" ] && { log "pause image $pause_image: cached"; return; }
  built=1
  local rootfs
  rootfs=$(mktemp -d)
  install -m 0755 "$bin/pause-$pause_tag" "$rootfs/pause"
  bash "$node_dir/pack-image.sh" --name "$pause_image" --rootfs "$rootfs" --out "$pause_archive" -- /pause >/dev/null
  rm -rf "$rootfs"
  log "pause image $pause_image: $(stat -c %s "$pause_archive") bytes"
}

build_busybox_image() {
  local tag archive
  tag=$(busybox_tag)
  archive="$images/busybox-$tag.tar"
  [ -f "$archive" ] && { log "busybox image kar.local/busybox:$tag: cached"; return; }
  built=1
  local rootfs applet
  rootfs=$(mktemp -d)
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/etc"
  chmod 1777 "$rootfs/tmp"
  install -m 0755 /bin/busybox "$rootfs/bin/busybox"
  for applet in $(/bin/busybox --list); do
    [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
  done
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$rootfs/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
  bash "$node_dir/pack-image.sh" --name "kar.local/busybox:$tag" --rootfs "$rootfs" --out "$archive" -- /bin/sh \
    >/dev/null
  rm -rf "$rootfs"
  log "busybox image kar.local/busybox:$tag: $(stat -c %s "$archive") bytes"
}

started=$(date +%s)
timed "containerd $CONTAINERD_VERSION" build_containerd
timed "runc $RUNC_VERSION" build_runc
timed "CNI plugins $CNI_PLUGINS_VERSION" build_cni_plugins
build_kubelet_and_kube_proxy
timed "pause image" build_pause
timed "busybox image" build_busybox_image
log "done in $(($(date +%s) - started)) s; binaries in $bin"
