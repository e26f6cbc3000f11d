#!/usr/bin/env bash
# Builds what a real Knative install needs from published Go modules, for the Knative tests on the real node:
#   Knative Serving's controller, webhook, activator, autoscaler and queue-proxy (knative.dev/serving/cmd/...),
#   Traefik, whose experimental Knative provider is the networking layer (it implements KIngress), and
#   CoreDNS for cluster DNS, with only the plugins a cluster's DNS uses (coredns/main.go).
# Versions are pinned in versions.env. Binaries land in $KNATIVE_CACHE/bin/<name>-<version> (default
# ~/.cache/kube-actions-runner/knative, outside the clone so worktrees share it); one already there is not rebuilt.
# Each build is a throwaway main module requiring the published module, with that module's own replace and exclude
# directives copied in: `go install mod@version` refuses a module that has any.
# render.sh turns the same Serving module's config/ into the install manifest that runs these binaries as images.
# The first build takes about a quarter of an hour on 2 cores, Traefik over half of it; progress is printed.
#
# usage: build.sh [knative|traefik|coredns]...   build those (default: all three)
#        build.sh probe                          check which newer releases the module proxy serves in full
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
cache="${KNATIVE_CACHE:-$HOME/.cache/kube-actions-runner/knative}"
bin="$cache/bin"
work="$cache/work"
mkdir -p "$bin" "$work"
export CGO_ENABLED=0 GOFLAGS="-trimpath -mod=mod" GOTOOLCHAIN=local

if ! command -v go >/dev/null 2>&1; then
  echo "build.sh: the Go toolchain is needed to build Knative, Traefik and CoreDNS (go 1.26+); install it and retry" >&2
  exit 3
fi

log() { printf '[knative] %s %s\n' "$(date +%H:%M:%S)" "$*"; }

# The packages each component builds, and the names its binaries get (cmd/queue is Knative's queue-proxy).
serving_module=knative.dev/serving
serving_commands=(controller webhook activator autoscaler queue)
serving_names=(controller webhook activator autoscaler queue-proxy)
traefik_module=github.com/traefik/traefik/v3
traefik_package=$traefik_module/cmd/traefik
coredns_module=github.com/coredns/coredns
# The probe checks the module's own main, which links every plugin; the build links those coredns/main.go names.
coredns_package=$coredns_module

# go_mod_of MODULE VERSION: the path of that version's go.mod in the module cache.
go_mod_of() {
  (cd "$work" && go mod download -json "$1@$2") | sed -n 's/.*"GoMod": "\(.*\)",/\1/p'
}

# directives_of GOMOD: its replace and exclude directives, one a line, comments dropped.
directives_of() {
  awk '
    { sub(/\/\/.*/, "") }
    /^(replace|exclude)[ \t]*\(/ { block = $1; next }
    block != "" && /^[ \t]*\)/ { block = ""; next }
    block != "" && NF { print block, $0; next }
    /^(replace|exclude)[ \t]/ && NF > 1 { print }
  ' "$1" | sed 's/[[:space:]][[:space:]]*/ /g; s/ $//'
}

# make_module DIR MODULE VERSION: a throwaway main module requiring MODULE@VERSION with its directives.
# Fails when one replaces a module with a directory: module zips leave nested modules out, so it cannot resolve.
make_module() {
  local dir=$1 module=$2 version=$3 gomod directives
  gomod=$(go_mod_of "$module" "$version")
  directives=$(directives_of "$gomod")
  if grep -q '=> *\.\{0,2\}/' <<<"$directives"; then
    echo "build.sh: $module@$version replaces modules with directories not in its module zip:" >&2
    grep '=> *\.\{0,2\}/' <<<"$directives" >&2
    return 1
  fi
  mkdir -p "$dir"
  {
    echo "module kube-actions-runner.local/build"
    echo
    echo "go 1.24"
    echo
    echo "require $module $version"
    [ -z "$directives" ] || printf '%s\n' "$directives"
  } >"$dir/go.mod"
  touch "$dir/go.sum"
}

# took STARTED: seconds since STARTED (date +%s).
took() { echo "$(( $(date +%s) - $1 )) s"; }

build_knative() {
  local v=$KNATIVE_SERVING_VERSION want=() i
  for i in "${!serving_names[@]}"; do
    [ -x "$bin/${serving_names[$i]}-$v" ] || want+=("$i")
  done
  [ ${#want[@]} -eq 0 ] && { log "knative serving $v: cached"; return; }
  local dir="$work/serving-$v" out="$work/serving-$v/out" packages=() started
  started=$(date +%s)
  make_module "$dir" "$serving_module" "$v"
  for i in "${want[@]}"; do packages+=("$serving_module/cmd/${serving_commands[$i]}"); done
  log "knative serving $v: building ${#packages[@]} commands in one go build (they share most packages)"
  rm -rf "$out" && mkdir -p "$out"
  (cd "$dir" && go build -ldflags "-s -w" -o "$out/" "${packages[@]}")
  for i in "${want[@]}"; do mv "$out/${serving_commands[$i]}" "$bin/${serving_names[$i]}-$v"; done
  log "knative serving $v: built in $(took "$started")"
}

build_traefik() {
  local v=$TRAEFIK_VERSION
  [ -x "$bin/traefik-$v" ] && { log "traefik $v: cached"; return; }
  local dir="$work/traefik-$v" started
  started=$(date +%s)
  make_module "$dir" "$traefik_module" "$v"
  log "traefik $v: building"
  # Version is what `traefik version` and the startup log print; "dev" otherwise.
  (cd "$dir" && go build -ldflags "-s -w -X $traefik_module/pkg/version.Version=$v" \
    -o "$bin/traefik-$v.tmp" "$traefik_package")
  mv "$bin/traefik-$v.tmp" "$bin/traefik-$v"
  log "traefik $v: built in $(took "$started")"
}

build_coredns() {
  local v=$COREDNS_VERSION key
  # The binary is keyed by coredns/main.go (the plugins it links) as well as the version.
  key=$(sha256sum "$here/coredns/main.go" | cut -c1-16)
  if [ -x "$bin/coredns-$v" ] && [ "$(cat "$bin/coredns-$v.key" 2>/dev/null)" = "$key" ]; then
    log "coredns $v: cached"
    return
  fi
  local dir="$work/coredns-$v" started
  started=$(date +%s)
  make_module "$dir" "$coredns_module" "$v"
  cp "$here/coredns/main.go" "$dir/main.go"
  log "coredns $v: building with the plugins coredns/main.go links"
  (cd "$dir" && go build -ldflags "-s -w -X $coredns_module/coremain.GitCommit=$v" -o "$bin/coredns-$v.tmp" .)
  mv "$bin/coredns-$v.tmp" "$bin/coredns-$v"
  echo "$key" >"$bin/coredns-$v.key"
  log "coredns $v: built in $(took "$started")"
}

# probe_one MODULE PINNED PACKAGE...: for each release from the newest down to PINNED, whether the proxy serves
# every module the packages import (go list -deps downloads them all without compiling anything).
probe_one() {
  local module=$1 pinned=$2 v dir refused
  shift 2
  for v in $(cd "$work" && go list -m -versions "$module" | tr ' ' '\n' | tail -n +2 | sort -rV); do
    dir="$work/probe/${module//\//_}-$v"
    if ! make_module "$dir" "$module" "$v" 2>"$dir.err"; then
      log "probe $module $v: refused: $(tail -n +2 "$dir.err" | tr '\n' ' ')"
    elif (cd "$dir" && go list -deps "$@" >/dev/null 2>"$dir.err"); then
      log "probe $module $v: served in full"
    else
      refused=$(grep -o 'proxy.golang.org/[^ ]*: 403' "$dir.err" | sed 's#proxy.golang.org/##; s#/@v/#@#; s#\.zip: 403##' |
        sort -u | tr '\n' ' ')
      log "probe $module $v: refused: ${refused:-$(grep -v '^go: downloading' "$dir.err" | head -3 | tr '\n' ' ')}"
    fi
    [ "$v" = "$pinned" ] && break
  done
  return 0
}

probe() {
  mkdir -p "$work/probe"
  probe_one "$serving_module" "$KNATIVE_SERVING_VERSION" "${serving_commands[@]/#/$serving_module/cmd/}"
  probe_one "$traefik_module" "$TRAEFIK_VERSION" "$traefik_package"
  probe_one "$coredns_module" "$COREDNS_VERSION" "$coredns_package"
  log "pinned: serving $KNATIVE_SERVING_VERSION, traefik $TRAEFIK_VERSION, coredns $COREDNS_VERSION (versions.env)"
}

[ $# -gt 0 ] || set -- knative traefik coredns
started=$(date +%s)
for component in "$@"; do
  case $component in
    knative) build_knative ;;
    traefik) build_traefik ;;
    coredns) build_coredns ;;
    probe) probe; exit 0 ;;
    *) echo "build.sh: unknown component '$component'; use knative, traefik, coredns or probe" >&2; exit 2 ;;
  esac
done
log "done in $(took "$started"); binaries in $bin"
