#!/usr/bin/env bash
# Prints Knative Serving's install manifest as the release assembles it, from the published module build.sh
# compiles (versions.env), with each ko:// image replaced by the image of that binary in the local registry.
#
# usage: render.sh crds|core [--ingress-class CLASS]
#   crds  the CRDs, as the release's serving-crds.yaml: config/core/300-resources/ and 300-imagecache.yaml
#   core  all of config/core/, as serving-core.yaml (the CRDs again, then namespace, RBAC, config-* ConfigMaps,
#         Deployments, webhooks): apply crds first and wait for them to be Established
#   --ingress-class CLASS  sets config-network's ingress-class, the networking layer Routes use
#         (traefik.ingress.networking.knative.dev for Traefik). Without it config-network is as released, which
#         names Istio. No other ConfigMap value is changed: config-features is the release's.
# Images are $KNATIVE_REGISTRY/knative/<name>:<serving module version>, <name> as build.sh names the binary
# (cmd/queue is queue-proxy); KNATIVE_REGISTRY defaults to 127.0.0.1:5100.
#
# The module holds config/ but not what the repository links in from its vendored dependencies (module zips drop
# symlinks): the networking CRDs and config-network come from knative.dev/networking, the Image CRD from
# knative.dev/caching, each at the version Serving's go.mod requires, put back where the links are.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
source "$here/versions.env"
registry="${KNATIVE_REGISTRY:-127.0.0.1:5100}"
usage="usage: render.sh crds|core [--ingress-class CLASS]"
fail() { echo "render.sh: $*" >&2; exit 2; }

[ $# -ge 1 ] || fail "$usage"
what=$1
shift
[ "$what" = crds ] || [ "$what" = core ] || fail "$usage"
ingress_class=
while [ $# -gt 0 ]; do
  case $1 in
    --ingress-class) [ $# -ge 2 ] || fail "$usage"; ingress_class=$2; shift 2 ;;
    *) fail "unknown argument '$1'; $usage" ;;
  esac
done

export GOFLAGS=-mod=mod GOTOOLCHAIN=local
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# download MODULE VERSION FIELD: the module's Dir or GoMod in the module cache (downloaded once).
download() {
  (cd "$tmp" && go mod download -json "$1@$2") | sed -n "s/.*\"$3\": \"\(.*\)\",/\1/p"
}
required_version() { sed -n "s#^[[:space:]]*$1 \(v[^ ]*\).*#\1#p" "$2" | head -1; }

v=$KNATIVE_SERVING_VERSION
serving=$(download knative.dev/serving "$v" Dir)
serving_mod=$(download knative.dev/serving "$v" GoMod)
networking=$(download knative.dev/networking "$(required_version knative.dev/networking "$serving_mod")" Dir)
caching=$(download knative.dev/caching "$(required_version knative.dev/caching "$serving_mod")" Dir)
[ -d "$serving/config/core" ] || fail "knative.dev/serving@$v has no config/core"

core="$tmp/core"
cp -R "$serving/config/core" "$core"
chmod -R u+w "$core"
# Where the repository's links point: config/core/<path> <- <module>/config/<file>.
links=(
  "300-imagecache.yaml $caching/config/image.yaml"
  "300-resources/certificate.yaml $networking/config/certificate.yaml"
  "300-resources/domain-claim.yaml $networking/config/domain-claim.yaml"
  "300-resources/ingress.yaml $networking/config/ingress.yaml"
  "300-resources/serverlessservice.yaml $networking/config/serverlessservice.yaml"
  "configmaps/network.yaml $networking/config/config-network.yaml"
)
for link in "${links[@]}"; do
  target=${link%% *} source=${link#* }
  [ -f "$source" ] || fail "$source is missing: the links of knative.dev/serving@$v differ; update render.sh"
  [ ! -e "$core/$target" ] || fail "config/core/$target is in knative.dev/serving@$v itself now; update render.sh"
  cp "$source" "$core/$target"
done
# A manifest networking or caching adds would be left out silently otherwise.
for source in "$networking"/config/*.yaml "$caching"/config/*.yaml; do
  printf '%s\n' "${links[@]}" | grep -qF -- " $source" || fail "$source is not placed; update render.sh's links"
done

if [ -n "$ingress_class" ]; then
  [ "$(grep -c '^data:$' "$core/configmaps/network.yaml")" = 1 ] || fail "config-network has no single data: block"
  sed -i "s|^data:\$|data:\n  ingress-class: \"$ingress_class\"|" "$core/configmaps/network.yaml"
fi

if [ "$what" = crds ]; then
  files=$(cd "$core" && ls 300-resources/*.yaml 300-imagecache.yaml)
else
  # ko resolve -R walks config/core in lexical order; LC_ALL=C sort of the paths gives the same order here.
  files=$(cd "$core" && find . -name '*.yaml' | sed 's#^\./##' | LC_ALL=C sort)
fi

out="$tmp/manifest.yaml"
for f in $files; do
  printf -- '---\n# config/core/%s\n' "$f"
  sed -e "s#ko://knative.dev/serving/cmd/queue\$#$registry/knative/queue-proxy:$v#" \
    -e "s#ko://knative.dev/serving/cmd/\([a-z-]*\)\$#$registry/knative/\1:$v#" \
    -e "s#app.kubernetes.io/version: devel\$#app.kubernetes.io/version: \"$KNATIVE_RELEASE\"#" \
    "$core/$f"
done >"$out"
if grep -n 'ko://' "$out" >&2; then
  fail "the images above have no binary built by build.sh"
fi
cat "$out"
