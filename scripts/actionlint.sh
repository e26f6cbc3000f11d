#!/usr/bin/env bash
# Checks the GitHub Actions workflows in .github/workflows with actionlint (syntax, expressions, action inputs
# and outputs, runner labels), built once from its Go module at a pinned version into the tools cache that the
# control plane uses, then reused. Needs Go 1.24+.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=v1.7.12
cache="${CONTROL_PLANE_CACHE:-$root/.cache/control-plane}"
bin="$cache/bin/actionlint-$version"
if [ ! -x "$bin" ]; then
  if ! command -v go >/dev/null 2>&1; then
    echo "actionlint.sh: the Go toolchain is needed to build actionlint (go 1.24+)" >&2
    exit 3
  fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "[actionlint] building github.com/rhysd/actionlint $version (once)" >&2
  (cd "$work" && CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-trimpath GOBIN="$work" \
    go install -ldflags "-s -w" "github.com/rhysd/actionlint/cmd/actionlint@$version")
  mkdir -p "$cache/bin"
  mv "$work/actionlint" "$bin"
fi
cd "$root"
"$bin" -color=false "$@"
echo "actionlint $version: $(find .github/workflows -name '*.yml' -o -name '*.yaml' | wc -l) workflow(s) pass"
