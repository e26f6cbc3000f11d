#!/usr/bin/env bash
# Prints the path of the statsd_exporter the metrics proof runs (npm run test:metrics), building it once from its
# published Go module, pinned, into the tools cache (beside the control plane's). About a minute of CPU on 2 cores
# with an empty Go build cache; then cached.
set -euo pipefail
STATSD_EXPORTER_VERSION=v0.31.0
cache="${KAR_TOOLS_CACHE:-$HOME/.cache/kube-actions-runner/tools}"
bin="$cache/statsd_exporter-$STATSD_EXPORTER_VERSION"
if [ ! -x "$bin" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "statsd-exporter.sh: the Go toolchain is needed to build statsd_exporter once; install it and retry" >&2
    exit 3
  fi
  mkdir -p "$cache"
  echo "[metrics] building statsd_exporter $STATSD_EXPORTER_VERSION" >&2
  CGO_ENABLED=0 GOFLAGS="-trimpath -mod=mod" GOTOOLCHAIN=local GOBIN="$cache/.gobin" \
    go install -ldflags "-s -w" "github.com/prometheus/statsd_exporter@$STATSD_EXPORTER_VERSION" >&2
  mv "$cache/.gobin/statsd_exporter" "$bin"
fi
echo "$bin"
