#!/bin/sh
# The Docker daemon stand-ins' entry point (Debian's docker.io, rootlesskit and slirp4netns). It honours what
# docker-library/docker's dockerd-entrypoint.sh does with the arguments and environment our pods give it
# (shared/modes/dind.ts, dind-rootless.ts):
# - arguments that start with `dockerd` run as given, under docker-init, with no TCP listener and no TLS;
# - no arguments, or options only: dockerd on the default socket (or DOCKER_HOST's unix socket) plus an
#   unauthenticated listener on 0.0.0.0:2375 (the official image generates TLS certificates when
#   DOCKER_TLS_CERTDIR is set; this one does not, and says so);
# - as root: a stale PID file removed, iptables legacy when the host already has legacy rules or nf_tables fails,
#   and under cgroup v2 its own processes moved out of the root cgroup, so that dockerd can delegate controllers;
# - as another user: rootless, after the official checks (rootlesskit, subordinate IDs for the user, a writable
#   HOME and XDG_RUNTIME_DIR, user namespaces allowed), under rootlesskit with slirp4netns and /etc and /run
#   copied up;
# - anything else runs as a command (a docker subcommand when it is not one).
set -eu

uid=$(id -u)
rootlesskit_ports=
if [ "$#" -eq 0 ] || [ "${1#-}" != "$1" ]; then
  if [ "$uid" = 0 ]; then
    socket=unix:///var/run/docker.sock
  else
    socket="unix://${XDG_RUNTIME_DIR:-/run/user/$uid}/docker.sock"
  fi
  case ${DOCKER_HOST:-} in unix://*) socket=$DOCKER_HOST ;; esac
  if [ -n "${DOCKER_TLS_CERTDIR:-}" ]; then
    echo "dockerd-entrypoint: this stand-in makes no TLS certificates (DOCKER_TLS_CERTDIR); listening without TLS" >&2
  fi
  set -- dockerd --host="$socket" --host=tcp://0.0.0.0:2375 "$@"
  rootlesskit_ports="-p 0.0.0.0:2375:2375/tcp"
fi

if [ "$1" != dockerd ]; then
  if command -v "$1" >/dev/null 2>&1; then exec "$@"; fi
  exec docker "$@"
fi

find /run /var/run -iname 'docker*.pid' -delete 2>/dev/null || :
# docker-init (tini) as the daemon's parent reaps the shims' zombies (docker-library/docker#318).
set -- docker-init -- "$@"

legacy_rules() {
  for table in /proc/net/ip_tables_names /proc/net/ip6_tables_names /proc/net/arp_tables_names; do
    [ -s "$table" ] && [ -n "$(cat "$table" 2>/dev/null)" ] && return 0
  done
  return 1
}
if [ -n "${DOCKER_IPTABLES_LEGACY+set}" ]; then
  [ -n "$DOCKER_IPTABLES_LEGACY" ] && PATH="/usr/local/sbin/.iptables-legacy:$PATH"
elif legacy_rules || ! iptables -nL >/dev/null 2>&1; then
  PATH="/usr/local/sbin/.iptables-legacy:$PATH"
fi
export PATH
iptables --version

if [ "$uid" != 0 ]; then
  command -v rootlesskit >/dev/null || { echo "dockerd-entrypoint: rootless dockerd needs rootlesskit" >&2; exit 1; }
  user=$(id -un 2>/dev/null || :)
  for file in /etc/subuid /etc/subgid; do
    if ! grep -qE "^($uid${user:+|$user}):" "$file"; then
      echo "dockerd-entrypoint: rootless dockerd needs an entry for $uid in $file" >&2
      exit 1
    fi
  done
  : "${XDG_RUNTIME_DIR:=/run/user/$uid}"
  export XDG_RUNTIME_DIR
  if ! mkdir -p "$XDG_RUNTIME_DIR" "$HOME/.local/share/docker" || [ ! -w "$XDG_RUNTIME_DIR" ] ||
    [ ! -w "$HOME/.local/share/docker" ]; then
    echo "dockerd-entrypoint: rootless dockerd needs a writable HOME ($HOME) and XDG_RUNTIME_DIR ($XDG_RUNTIME_DIR)" >&2
    exit 1
  fi
  if [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 1)" = 0 ]; then
    echo "dockerd-entrypoint: rootless dockerd needs user namespaces (user.max_user_namespaces is 0)" >&2
    exit 1
  fi
  # shellcheck disable=SC2086 # flags are words
  exec rootlesskit --net="${DOCKERD_ROOTLESS_ROOTLESSKIT_NET:-slirp4netns}" \
    --mtu="${DOCKERD_ROOTLESS_ROOTLESSKIT_MTU:-1500}" --disable-host-loopback --port-driver=builtin \
    --copy-up=/etc --copy-up=/run ${DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS:-} $rootlesskit_ports "$@"
fi

# Rootful: under cgroup v2, dockerd can enable controllers for its containers only once no process is left in the
# cgroup it is in (the container's), so move this one's processes into a child first.
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p /sys/fs/cgroup/init
  xargs -rn1 </sys/fs/cgroup/cgroup.procs >/sys/fs/cgroup/init/cgroup.procs 2>/dev/null || :
  sed -e 's/ / +/g' -e 's/^/+/' </sys/fs/cgroup/cgroup.controllers >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || :
fi
exec "$@"
