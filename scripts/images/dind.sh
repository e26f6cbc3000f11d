# The Docker daemon stand-ins, kar-docker:<docker.io version>-dind and -dind-rootless, from dind/: Debian's
# docker.io (20.10: API 1.41, which the runner stand-in's CLI speaks) behind an entry point of ours that honours
# what our pods ask of docker:dind and docker:dind-rootless. Named after their tags' suffixes, which the modes'
# images carry, not after Docker 29, which they are not.
# shellcheck shell=bash

# The Debian version of docker.io apt would install (the host's lists), cut to the engine's: 20.10.24.
DIND_VERSION=$({ apt-cache show --no-all-versions docker.io 2>/dev/null || true; } |
  sed -n 's/^Version: \([0-9.]*\).*/\1/p')
DIND_REF=localhost/kar-docker:${DIND_VERSION:-unknown}-dind
DIND_ROOTLESS_REF=localhost/kar-docker:${DIND_VERSION:-unknown}-dind-rootless

dind_key() {
  hash_inputs "$DIND_VERSION" "$(debian_key)" file:scripts/images/dind/Containerfile \
    file:scripts/images/dind/dockerd-entrypoint.sh file:scripts/images/dind.sh
}

dind_rootless_key() {
  hash_inputs "$(dind_key)" file:scripts/images/dind/Containerfile.rootless
}

# build_dind_image REF KEY CONTAINERFILE [BUILD ARGS...]
build_dind_image() {
  local ref=$1 key=$2 file=$3 log_file
  shift 3
  log_file="$cache/work/$(slug "$ref")-build.log"
  [ -n "$DIND_VERSION" ] || { log "apt knows no docker.io: apt-get update"; return 1; }
  log "$ref: buildah build -f dind/$file (Debian's docker.io $DIND_VERSION)"
  bah build --isolation chroot --network host --pull=never --layers=false --quiet "$@" \
    --label "$INPUTS_LABEL=$key" -f "$here/dind/$file" -t "$ref" "$here/dind" >"$log_file" 2>&1 || {
    tail -30 "$log_file" >&2
    return 1
  }
}

build_dind() {
  build_dind_image "$1" "$2" Containerfile
  check_dind "$1" 0 'dockerd --version && docker --version && containerd --version && runc --version &&
    docker-init --version && iptables --version && test -x /usr/local/bin/dockerd-entrypoint.sh &&
    ! getent group docker'
}

build_dind_rootless() {
  build_dind_image "$1" "$2" Containerfile.rootless --build-arg "DIND_REF=$DIND_REF"
  check_dind "$1" 1000 'test "$(id -un)" = rootless && test "$HOME" = /home/rootless &&
    test "$(cat /etc/subuid)" = rootless:100000:65536 && test "$(cat /etc/subgid)" = rootless:100000:65536 &&
    test -w /home/rootless/.local/share/docker && ! test -u /usr/bin/newuidmap && getcap /usr/bin/newuidmap | grep -q "cap_setuid,cap_setfcap=ep" &&
    getcap /usr/bin/newgidmap | grep -q cap_setgid=ep &&
    rootlesskit --version && slirp4netns --version && test -d /run/user'
}

# check_dind REF UID SCRIPT: the image's user and entry point, and SCRIPT passing in it.
check_dind() {
  local ref=$1 uid=$2 script=$3 ctr out config
  config=$(bah inspect --type image "$ref" | jq -c '.OCIv1.config')
  jq -e '.Entrypoint == ["dockerd-entrypoint.sh"]' <<<"$config" >/dev/null || {
    log "$ref: unexpected entry point: $config"
    return 1
  }
  ctr=$(bah from --quiet --pull=never "$ref")
  out=$(bah run --isolation chroot "$ctr" -- sh -ec "test \"\$(id -u)\" = $uid; $script" 2>&1) || {
    log "$ref: breaks the daemon image's contract: $out"
    bah rm "$ctr" >/dev/null
    return 1
  }
  bah rm "$ctr" >/dev/null
}
