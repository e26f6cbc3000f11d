#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Builds the images the real node runs, offline from Debian's packages, the npm registry and the project's own
# files, with Debian's buildah (vfs storage, chroot isolation):
#   debian      localhost/kar-debian:bookworm                 debootstrap minbase, the base of the two below
#   node        docker.io/library/node:<ver>-bookworm-slim    stand-in for the Dockerfile's build base
#   distroless  gcr.io/distroless/cc-debian12:nonroot         stand-in for the Dockerfile's runtime base
#   function    ghcr.io/kube-actions-runner/kube-actions-runner:<package.json version>, from ./Dockerfile
#   runner      localhost/kar-runner-stand-in:<runner version>
#   dind        localhost/kar-docker:<docker.io version>-dind            Debian's Docker daemon, rootful
#   dind-rootless  localhost/kar-docker:<docker.io version>-dind-rootless   and rootless
# Usage: scripts/images/build.sh [IMAGE...]   (default: all; an image's bases are made first)
# Each image is kept as an OCI archive in ${IMAGES_CACHE:-~/.cache/kube-actions-runner/images}/archives, named by
# the hash of its inputs; an image whose inputs have not changed is not built again (IMAGES_REBUILD=1 forces it).
# images.tsv there lists reference, key, archive, archive bytes and unpacked bytes of each image made.
# REGISTRY=127.0.0.1:5100 also pushes every image to that registry over plain HTTP.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${IMAGES_CACHE:-$HOME/.cache/kube-actions-runner/images}
REGISTRY=${REGISTRY:-}

source "$here/versions.env"
source "$here/lib.sh"
source "$here/debian.sh"
source "$here/node.sh"
source "$here/distroless.sh"
source "$here/function.sh"
source "$here/runner.sh"
source "$here/dind.sh"

if [ "$(id -u)" -ne 0 ]; then
  echo "build.sh: run as root (debootstrap, and buildah's chroot isolation without user namespaces)" >&2
  exit 3
fi
missing=()
for tool in buildah debootstrap jq npm; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "build.sh: missing ${missing[*]}: apt-get install -y buildah debootstrap jq (npm comes with Node.js)" >&2
  exit 3
fi

# Each image, after the images it is built on.
declare -A BASES=([debian]="" [node]=debian [distroless]="" [function]="node distroless" [runner]=debian
  [dind]=debian [dind-rootless]=dind)
ORDER=(debian node distroless function runner dind dind-rootless)

wanted=("$@")
[ ${#wanted[@]} -eq 0 ] && wanted=("${ORDER[@]}")
declare -A selected=()
select_image() {
  [ -n "${BASES[$1]+set}" ] || { echo "build.sh: no image '$1' (one of: ${ORDER[*]})" >&2; exit 2; }
  local base
  for base in ${BASES[$1]}; do select_image "$base"; done
  selected[$1]=1
}
for name in "${wanted[@]}"; do select_image "$name"; done

mkdir -p "$cache/archives" "$cache/work"
# One build at a time per cache: clones share it, and a build's work folders and tags are the cache's.
exec 9>"$cache/build.lock"
if ! flock --nonblock 9; then
  log "another build is using $cache; waiting for it"
  flock 9
fi
: >"$cache/images.tsv.new"
started=$SECONDS
for name in "${ORDER[@]}"; do
  [ -n "${selected[$name]:-}" ] || continue
  fn=${name//-/_}
  ref_var=${fn^^}_REF
  ref=${!ref_var}
  key=$("${fn}_key")
  if [ -z "${IMAGES_REBUILD:-}" ] && image_ready "$ref" "$key"; then
    log "$ref: cached ($key)"
  else
    since=$SECONDS
    log "$ref: building ($key)"
    "build_$fn" "$ref" "$key"
    keep_image "$ref" "$key"
    log "$ref: built in $((SECONDS - since)) s"
  fi
  note_image "$ref" "$key"
  [ -z "$REGISTRY" ] || push_image "$ref"
done
# Images not made this time keep their lines.
touch "$cache/images.tsv"
{
  cat "$cache/images.tsv.new"
  awk -F'\t' 'NR == FNR { made[$1] = 1; next } !($1 in made)' "$cache/images.tsv.new" "$cache/images.tsv"
} >"$cache/images.tsv.tmp"
mv "$cache/images.tsv.tmp" "$cache/images.tsv"
rm "$cache/images.tsv.new"
# The images these replaced, and the build stages: vfs keeps every layer as a full copy.
bah rmi --prune >/dev/null 2>&1 || true
log "done in $((SECONDS - started)) s; $cache/images.tsv:"
awk -F'\t' '{ printf "  %-58s %7.1f MB archive, %7.1f MB unpacked\n", $1, $4 / 1e6, $5 / 1e6 }' "$cache/images.tsv"
