# The function's image, from the project's own Dockerfile, by buildah on the stand-in bases.
# The Dockerfile's `# syntax=docker/dockerfile:1` line picks BuildKit's frontend image; buildah has its own parser
# (imagebuilder) and reads the line as a comment, so no frontend image is fetched.
# shellcheck shell=bash

FUNCTION_VERSION=$(jq -r .version "$root/package.json")
FUNCTION_REF=ghcr.io/kube-actions-runner/kube-actions-runner:$FUNCTION_VERSION

# What the Dockerfile copies from the build context: the sources of its COPY lines that have no --from.
function_sources() {
  sed -n 's/^COPY[[:space:]]\+//p' "$root/Dockerfile" | grep -v -- '^--from' | while read -r -a words; do
    local last=$((${#words[@]} - 1)) i
    for ((i = 0; i < last; i++)); do
      case ${words[$i]} in --*) ;; *) printf 'file:%s\n' "${words[$i]%/}" ;; esac
    done
  done
}

function_key() {
  local sources
  mapfile -t sources < <(function_sources)
  hash_inputs "$(node_key)" "$(distroless_key)" file:Dockerfile file:.dockerignore "${sources[@]}" \
    file:scripts/images/function.sh
}

# The certificate authorities this machine's npm trusts, when they are not Node.js's own (a proxy that inspects
# TLS): npm ci in the build trusts them too, through a mount that stays out of the image.
build_trust() {
  local cafile=${NODE_EXTRA_CA_CERTS:-}
  [ -n "$cafile" ] || cafile=$(npm config get cafile 2>/dev/null || true)
  case $cafile in "" | null | undefined) return ;; esac
  [ -f "$cafile" ] || return
  printf 'cafile=/run/kar-build-ca.crt\n' >"$cache/work/build-npmrc"
  printf '%s\n' -v "$cafile:/run/kar-build-ca.crt:ro" -v "$cache/work/build-npmrc:/usr/local/etc/npmrc:ro"
}

build_function() {
  local ref=$1 key=$2 trust
  mapfile -t trust < <(build_trust)
  log "$ref: buildah build -f Dockerfile (npm ci from the registry, the bundle, its code cache)"
  # --pull=never: the bases are the stand-ins in our storage, looked up by the Dockerfile's own names.
  (cd "$root" && bah build --isolation chroot --network host --pull=never --layers=false --quiet "${trust[@]}" \
    --label "$INPUTS_LABEL=$key" -f Dockerfile -t "$ref" .) >"$cache/work/function-build.log" 2>&1 || {
    tail -30 "$cache/work/function-build.log" >&2
    return 1
  }
  check_function "$ref"
}

# The image as the Deployment runs it: its user, entry point and files, and node starting the bundle in it.
check_function() {
  local ref=$1 config ctr mount status=0
  config=$(bah inspect --type image "$ref" | jq '.OCIv1.config')
  jq -e '.User == "65532:65532" and .Entrypoint == ["/nodejs/bin/node", "--max-semi-space-size=2", "/app/start.cjs"]
    and .WorkingDir == "/app"' <<<"$config" >/dev/null || {
    log "$ref: unexpected user, entry point or working folder: $config"
    return 1
  }
  ctr=$(bah from --quiet --pull=never "$ref")
  mount=$(bah mount "$ctr")
  local file
  for file in nodejs/bin/node app/start.cjs app/webhook.cjs app/webhook.cjs.cache app/doctor.cjs; do
    [ -f "$mount/$file" ] || { log "$ref: /$file is missing"; status=1; }
  done
  [ -e "$mount/bin/sh" ] && { log "$ref: has a shell (/bin/sh)"; status=1; }
  bah umount "$ctr" >/dev/null
  # Without its settings the function exits at once and names them: node, glibc, libstdc++ and the bundle work.
  local out
  out=$(bah run --isolation chroot --user 65532:65532 "$ctr" -- /nodejs/bin/node /app/start.cjs 2>&1) && {
    log "$ref: started without settings"
    status=1
  }
  grep -q 'WEBHOOK_SECRET' <<<"$out" || { log "$ref: unexpected output without settings: $out"; status=1; }
  bah run --isolation chroot --user 65532:65532 "$ctr" -- /nodejs/bin/node /app/doctor.cjs --help >/dev/null || {
    log "$ref: the doctor does not start"
    status=1
  }
  # The code cache is worth its bytes only if V8 takes it: written by this very node binary, under the entry's flags.
  bah run --isolation chroot "$ctr" -- /nodejs/bin/node --max-semi-space-size=2 -e '
    const { readFileSync } = require("node:fs");
    const { Script } = require("node:vm");
    const source = require("node:module").wrap(readFileSync("/app/webhook.cjs", "utf8"));
    const script = new Script(source, { filename: "/app/webhook.cjs", cachedData: readFileSync("/app/webhook.cjs.cache") });
    process.exitCode = script.cachedDataRejected ? 1 : 0;' || {
    log "$ref: V8 rejects the code cache"
    status=1
  }
  bah rm "$ctr" >/dev/null
  return $status
}
