# Sourced by build.sh and node.sh: versions, cache paths and image names of the real node.
# shellcheck shell=bash source-path=SCRIPTDIR disable=SC2034 # the variables are for the scripts that source this
node_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$node_dir/../.." && pwd)
# shellcheck source=../control-plane/versions.env
source "$root/scripts/control-plane/versions.env"
# shellcheck source=versions.env
source "$node_dir/versions.env"
cache="${CONTROL_PLANE_CACHE:-$root/.cache/control-plane}"
bin="$cache/bin"
work="$cache/work"
images="$cache/images"

# The pause binary and image are ours: their tag is the hash of the source, so a change rebuilds them.
pause_tag=$(sha256sum "$node_dir/pause/pause.c" | cut -c1-12)
pause_image="kar.local/pause:$pause_tag"
pause_archive="$images/pause-$pause_tag.tar"
# The test image is Debian's static busybox; its tag is the package version (an epoch and "+" are not allowed).
busybox_tag() {
  local v
  v=$(dpkg-query -W -f '${Version}' busybox-static 2>/dev/null) || return 1
  v=${v#*:}
  printf '%s' "${v//+/-}"
}

cni_bin="$bin/cni-plugins-$CNI_PLUGINS_VERSION"

log() { printf '[node] %s %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
