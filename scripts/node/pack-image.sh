#!/usr/bin/env bash
# Packs a folder into a one-layer OCI image archive (an OCI image layout, tarred) that
# `ctr -n k8s.io images import` takes as the image REF. The same folder always gives the same digest: files are
# sorted, owned by root and dated 1970, and gzip writes no name or time.
#
#   pack-image.sh --name REF --rootfs DIR --out FILE [--env K=V]... [--user U] [--workdir D] [-- ENTRYPOINT...]
#
# Image layout: https://github.com/opencontainers/image-spec/blob/main/image-layout.md
set -euo pipefail

name='' rootfs='' out='' user='' workdir='/'
envs=() entrypoint=()
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=$2; shift 2 ;;
    --rootfs) rootfs=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --env) envs+=("$2"); shift 2 ;;
    --user) user=$2; shift 2 ;;
    --workdir) workdir=$2; shift 2 ;;
    --) shift; entrypoint=("$@"); break ;;
    *) echo "pack-image.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
if [ -z "$name" ] || [ -z "$out" ] || [ ! -d "$rootfs" ]; then
  echo "usage: pack-image.sh --name REF --rootfs DIR --out FILE [--env K=V]... [--user U] [--workdir D] [-- ENTRYPOINT...]" >&2
  exit 2
fi

# json_string S: S as a JSON string (the names, paths and arguments we pack hold no control characters).
json_string() {
  local s=${1//\\/\\\\}
  printf '"%s"' "${s//\"/\\\"}"
}
# json_array S...: the arguments as a JSON array of strings.
json_array() {
  local sep='' s
  printf '['
  for s in "$@"; do printf '%s%s' "$sep" "$(json_string "$s")"; sep=','; done
  printf ']'
}
sha256() { sha256sum "$1" | cut -d' ' -f1; }
size() { stat -c %s "$1"; }
deterministic_tar() { tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=posix \
  --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime "$@"; }

layout=$(mktemp -d)
trap 'rm -rf "$layout"' EXIT
blobs="$layout/blobs/sha256"
mkdir -p "$blobs"

deterministic_tar -C "$rootfs" -cf "$layout/layer.tar" .
diff_id=$(sha256 "$layout/layer.tar")
gzip -n -9 "$layout/layer.tar"
layer_digest=$(sha256 "$layout/layer.tar.gz")
layer_size=$(size "$layout/layer.tar.gz")
mv "$layout/layer.tar.gz" "$blobs/$layer_digest"

env_json=$(json_array "PATH=/usr/local/bin:/usr/bin:/bin" "${envs[@]}")
printf '{"architecture":"amd64","os":"linux","config":{"Env":%s,"Entrypoint":%s,"User":%s,"WorkingDir":%s},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"scripts/node/pack-image.sh"}]}' \
  "$env_json" "$(json_array "${entrypoint[@]}")" "$(json_string "$user")" "$(json_string "$workdir")" "$diff_id" \
  >"$layout/config.json"
config_digest=$(sha256 "$layout/config.json")
config_size=$(size "$layout/config.json")
mv "$layout/config.json" "$blobs/$config_digest"

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
  "$config_digest" "$config_size" "$layer_digest" "$layer_size" >"$layout/manifest.json"
manifest_digest=$(sha256 "$layout/manifest.json")
manifest_size=$(size "$layout/manifest.json")
mv "$layout/manifest.json" "$blobs/$manifest_digest"

# containerd names an imported image by io.containerd.image.name; other tools read the tag from ref.name.
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"amd64","os":"linux"},"annotations":{"io.containerd.image.name":%s,"org.opencontainers.image.ref.name":%s}}]}' \
  "$manifest_digest" "$manifest_size" "$(json_string "$name")" "$(json_string "${name##*:}")" >"$layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"

mkdir -p "$(dirname "$out")"
deterministic_tar -C "$layout" -cf "$out.tmp" oci-layout index.json blobs
mv "$out.tmp" "$out"
echo "sha256:$manifest_digest"
