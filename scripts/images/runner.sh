# The runner stand-in image, kar-runner-stand-in:<runner version>, from runner/Containerfile. The version is the
# project's default runner image's (shared/config/runner-modes.ts), or RUNNER_VERSION; run.sh sends it to the
# broker, which may refuse it.
# shellcheck shell=bash

RUNNER_VERSION=${RUNNER_VERSION:-$(sed -n "s|^export const PINNED_RUNNER_VERSION = '\(.*\)';|\1|p" \
  "$root/shared/config/runner-modes.ts")}
RUNNER_REF=localhost/kar-runner-stand-in:$RUNNER_VERSION

runner_key() {
  hash_inputs "$RUNNER_VERSION" "$(debian_key)" file:scripts/images/runner file:scripts/images/runner.sh
}

build_runner() {
  local ref=$1 key=$2
  [ -n "$RUNNER_VERSION" ] || { log "no runner version in shared/config/runner-modes.ts"; return 1; }
  log "$ref: buildah build -f runner/Containerfile (curl, jq, sudo and the docker CLI from Debian)"
  bah build --isolation chroot --network host --pull=never --layers=false --quiet --build-arg "RUNNER_VERSION=$RUNNER_VERSION" \
    --label "$INPUTS_LABEL=$key" -f "$here/runner/Containerfile" -t "$ref" "$here/runner" \
    >"$cache/work/runner-build.log" 2>&1 || {
    tail -30 "$cache/work/runner-build.log" >&2
    return 1
  }
  check_runner "$ref"
}

# The contract the pods rely on (test/image-contracts.test.ts): user, groups, paths, tools.
check_runner() {
  local ref=$1 ctr out
  ctr=$(bah from --quiet --pull=never "$ref")
  # shellcheck disable=SC2016 # expanded in the image
  out=$(bah run --isolation chroot "$ctr" -- bash -ec '
    test "$(id -u)" = 1001 && test "$(id -un)" = runner && id -Gn | grep -qw docker && test "$(getent group docker)" = docker:x:123:runner
    test "$HOME" = /home/runner && test "$PWD" = /home/runner
    test -x run.sh && test -d externals && test -d _work && test -w _work && test -s .runner-version
    curl --version >/dev/null && jq --version >/dev/null && docker --version >/dev/null' 2>&1) || {
    log "$ref: breaks the runner image's contract: $out"
    bah rm "$ctr" >/dev/null
    return 1
  }
  bah rm "$ctr" >/dev/null
}
