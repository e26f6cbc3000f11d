#!/usr/bin/env bash
# Runs Knative's own admission checks (main.go) on the manifests read from stdin. The validator is built once
# from the Go modules pinned in go.mod/go.sum (a few minutes cold on 2 cores) into the control plane's cache,
# keyed by the hash of its sources, then reused. Its defaults are compared with the config-features of the
# Serving release the CRDs come from (KNATIVE_SERVING_VERSION). Exit 1: a manifest is refused.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
source "$root/scripts/control-plane/versions.env"
cache="${CONTROL_PLANE_CACHE:-$root/.cache/control-plane}"
export CGO_ENABLED=0 GOFLAGS="-trimpath -mod=readonly" GOTOOLCHAIN=local
if ! command -v go >/dev/null 2>&1; then
  echo "knative-validate: the Go toolchain is needed to build Knative's validation (go 1.24+)" >&2
  exit 3
fi
key=$(cat "$here/go.mod" "$here/go.sum" "$here/main.go" | sha256sum | cut -c1-16)
bin="$cache/bin/knative-validate-$key"
if [ ! -x "$bin" ]; then
  mkdir -p "$cache/bin"
  echo "[knative-validate] $(date +%H:%M:%S) building from Knative's Go modules (once)" >&2
  (cd "$here" && go build -ldflags "-s -w" -o "$bin.tmp" .)
  mv "$bin.tmp" "$bin"
fi
serving=$(cd "$here" && go mod download -json "knative.dev/serving@$KNATIVE_SERVING_VERSION" |
  sed -n 's/.*"Dir": "\(.*\)",/\1/p')
exec "$bin" -features "$serving/config/core/configmaps/features.yaml"
