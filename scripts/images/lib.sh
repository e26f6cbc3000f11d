# Helpers shared by scripts/images/build.sh and the image scripts it sources: buildah on the images' own storage,
# cache keys, and the OCI archives each image is kept as.
# shellcheck shell=bash

# Set by build.sh: $root (the clone), $here (scripts/images), $cache (IMAGES_CACHE).

# The label that names the hash of an image's inputs: an image in storage with the key it would be built with is
# not built again.
readonly INPUTS_LABEL=dev.kube-actions-runner.inputs

log() { printf '[images] %s %s\n' "$(date +%H:%M:%S)" "$*"; }

# buildah on storage of our own under the cache (vfs: no overlay mounts needed, nothing shared with the host's
# containers/storage). The run root holds only locks and mount state, so it lives on /run.
bah() {
  buildah --root "$cache/storage" --runroot "${IMAGES_RUNROOT:-/run/kube-actions-runner-images}" \
    --storage-driver vfs "$@"
}

# hash_inputs WORD... : a key from words (versions, keys of base images) and files ("file:PATH", relative to the
# clone, or a folder: every file under it). Names are hashed with contents, so a renamed file changes the key too.
hash_inputs() {
  local input
  for input in "$@"; do
    case $input in
      file:*)
        (cd "$root" && find "${input#file:}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum)
        ;;
      *) printf '%s\n' "$input" ;;
    esac
  done | sha256sum | cut -c1-16
}

# The inputs key an image in storage was built with (empty when there is no such image).
stored_key() {
  bah inspect --type image --format "{{index .OCIv1.Config.Labels \"$INPUTS_LABEL\"}}" "$1" 2>/dev/null || true
}

# A file name for an image reference: docker.io/library/node:24 -> docker.io_library_node_24.
slug() { printf '%s' "$1" | tr '/:@' '___'; }

archive_of() { printf '%s/archives/%s-%s.oci.tar' "$cache" "$(slug "$1")" "$2"; }

# image_ready REF KEY: true when REF with KEY is in storage (writing its archive if that is gone), restoring it
# from its archive if only that is left (a wiped storage, or a cache copied from another machine).
image_ready() {
  local ref=$1 key=$2 archive
  archive=$(archive_of "$ref" "$key")
  if [ "$(stored_key "$ref")" = "$key" ]; then
    [ -f "$archive" ] || keep_image "$ref" "$key"
    touch "$archive"
    return 0
  fi
  [ -f "$archive" ] || return 1
  touch "$archive"
  log "$ref: restoring from $(basename "$archive")"
  bah pull --quiet "oci-archive:$archive" >/dev/null
  [ "$(stored_key "$ref")" = "$key" ]
}

# keep_image REF KEY: writes the image as an OCI archive (its reference in the index, so that
# `ctr images import` names it) and notes it in images.tsv, which the node's scripts read.
keep_image() {
  local ref=$1 key=$2 archive
  archive=$(archive_of "$ref" "$key")
  mkdir -p "$(dirname "$archive")"
  # Other keys' archives stay a while: two clones of different commits share the cache. Used ones are touched.
  find "$(dirname "$archive")" -name "$(slug "$ref")-*.oci.tar" -mtime +7 -delete
  bah push --quiet "$ref" "oci-archive:$archive.tmp:$ref" >/dev/null
  mv "$archive.tmp" "$archive"
}

# note_image REF KEY: the line of images.tsv for REF: reference, key, archive, its bytes (layers compressed) and
# the image's unpacked bytes (the sum of its layers' sizes, as storage counts them).
note_image() {
  local ref=$1 key=$2 archive layers unpacked
  archive=$(archive_of "$ref" "$key")
  layers=$(bah inspect --type image "$ref" | jq '.OCIv1.rootfs.diff_ids')
  unpacked=$(jq --argjson layers "$layers" \
    '[.[] | select(.["diff-digest"] as $digest | $layers | index($digest)) | .["diff-size"]] | add' \
    "$cache/storage/vfs-layers/layers.json")
  printf '%s\t%s\t%s\t%s\t%s\n' "$ref" "$key" "$archive" "$(stat -c %s "$archive")" "$unpacked" \
    >>"$cache/images.tsv.new"
}

# push_image REF: to $REGISTRY (plain HTTP, on loopback), under REF's path without its registry.
push_image() {
  local ref=$1 path
  path=${ref#*/}
  log "$ref: pushing to $REGISTRY/$path"
  bah push --quiet --tls-verify=false "$ref" "docker://$REGISTRY/$path" >/dev/null
}
