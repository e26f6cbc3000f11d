#!/usr/bin/env bash
# Prints the CRD manifests of Knative Serving, Knative Eventing and the Prometheus Operator, one path a line,
# from their published Go modules (downloaded once into the Go module cache), so the end-to-end tests can apply
# them to the test control plane and validate knative/ against them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.env"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dir_of() {
  (cd "$work" && go mod download -json "$1@$2") | sed -n 's/.*"Dir": "\(.*\)",/\1/p'
}
serving=$(dir_of knative.dev/serving "$KNATIVE_SERVING_VERSION")
eventing=$(dir_of knative.dev/eventing "$KNATIVE_EVENTING_VERSION")
operator=$(dir_of github.com/prometheus-operator/prometheus-operator "$PROMETHEUS_OPERATOR_VERSION")
ls "$serving"/config/core/300-resources/*.yaml
ls "$eventing"/config/core/resources/pingsource.yaml
ls "$operator"/example/prometheus-operator-crd/monitoring.coreos.com_{servicemonitors,podmonitors,prometheusrules}.yaml
