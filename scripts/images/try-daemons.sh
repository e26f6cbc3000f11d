#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Starts each Docker daemon stand-in as its pod does, without a kubelet, and runs a container and a two-line build
# against it: the image's rootfs in mount, PID, network, UTS and IPC namespaces of its own (pivot_root, not chroot:
# the kernel lets no chrooted process make the user namespace RootlessKit needs), a /dev with the runtime's devices
# and /dev/net/tun (slirp4netns opens it), the host's cgroup v1 hierarchies bound in (dockerd makes docker/ cgroups
# there; removed afterwards). Run after build.sh, as root. Usage: try-daemons.sh [dind|dind-rootless]...
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cache=${IMAGES_CACHE:-$HOME/.cache/kube-actions-runner/images}
source "$here/versions.env"
source "$here/lib.sh"
source "$here/debian.sh"
source "$here/dind.sh"
: "$root"

# The pod's view: the arguments and user shared/modes/dind.ts and dind-rootless.ts give the daemon.
declare -A ARGS=([dind]="dockerd --host=unix:///var/run/dind/docker.sock --group=123"
  [dind-rootless]="dockerd --host=unix:///dind/docker.sock")
declare -A SOCKET=([dind]=/var/run/dind/docker.sock [dind-rootless]=/dind/docker.sock)
declare -A USER_ID=([dind]=0 [dind-rootless]=1000)

# What runs inside, as the pod's containers would: the daemon as its user, then the runner's docker commands.
inner() {
  cat <<EOF
set -eu
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mkdir -p "\$(dirname $2)"
if [ $3 = 0 ]; then
  /usr/local/bin/dockerd-entrypoint.sh $1 >/try/dockerd.log 2>&1 &
  daemon=\$!
else
  chown $3:$3 "\$(dirname $2)"
  setpriv --reuid=$3 --regid=$3 --init-groups env HOME=/home/rootless USER=rootless \
    /usr/local/bin/dockerd-entrypoint.sh $1 >/try/dockerd.log 2>&1 &
  daemon=\$!
fi
docker="docker --host=unix://$2"
for _ in \$(seq 60); do \$docker info >/dev/null 2>&1 && break; sleep 1; done
\$docker info --format 'daemon {{.ServerVersion}}, {{.Driver}}, cgroups {{.CgroupDriver}}, {{.SecurityOptions}}'
echo "socket \$(stat -c '%u:%g %a' $2)"
\$docker import /try/base.tar base >/dev/null
\$docker run --rm base sh -c 'echo "container: \$(head -2 /proc/self/uid_map | tr -s " " | tr "\n" ";")"'
printf 'FROM base\nRUN echo built >/built\n' >/try/Dockerfile
\$docker build --quiet --tag two /try >/dev/null
echo "build: \$(\$docker run --rm two cat /built)"
# The end of this shell, PID 1 of the namespace, ends the daemon and everything else in it.
kill "\$daemon"
EOF
}

try_daemon() {
  local name=$1 ref_var ref ctr mount base base_mount
  ref_var=${name//-/_}
  ref_var=${ref_var^^}_REF
  ref=${!ref_var}
  ctr=$(bah from --quiet --pull=never "$ref")
  mount=$(bah mount "$ctr")
  base=$(bah from --quiet --pull=never "$DEBIAN_REF")
  base_mount=$(bah mount "$base")
  mkdir -p "$mount/try" "$mount/.oldroot" "$mount/var/lib/docker"
  tar -C "$base_mount" -cf "$mount/try/base.tar" .
  bah rm "$base" >/dev/null
  inner "${ARGS[$name]}" "${SOCKET[$name]}" "${USER_ID[$name]}" >"$mount/try/inner.sh"
  log "$ref: ${ARGS[$name]} as uid ${USER_ID[$name]}"
  local status=0
  # shellcheck disable=SC2016 # expanded by the inner bash
  unshare --mount --pid --net --uts --ipc --fork bash -ec '
    m=$1
    mount --make-rprivate /
    mount --bind "$m" "$m"
    mount -t proc proc "$m/proc"
    mount -t sysfs sysfs "$m/sys"
    mount --rbind /sys/fs/cgroup "$m/sys/fs/cgroup"
    mount -t tmpfs -o mode=0755 tmpfs "$m/dev"
    for device in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0; do
      IFS=: read -r node major minor <<<"$device"
      mknod -m 0666 "$m/dev/$node" c "$major" "$minor"
    done
    mkdir -p "$m/dev/net" "$m/dev/pts" "$m/dev/shm"
    mknod -m 0666 "$m/dev/net/tun" c 10 200
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$m/dev/pts"
    ln -s pts/ptmx "$m/dev/ptmx"
    mount -t tmpfs tmpfs "$m/run"
    mkdir -m 1777 "$m/run/user"
    ip link set lo up
    hostname try-daemon
    cd "$m"
    pivot_root . .oldroot
    umount -l /.oldroot
    exec /bin/sh /try/inner.sh' try-daemon "$mount" || status=$?
  [ "$status" -eq 0 ] || { log "$ref: failed; the daemon's log:"; tail -20 "$mount/try/dockerd.log" >&2; }
  bah rm "$ctr" >/dev/null
  local dir
  for dir in /sys/fs/cgroup/*/docker; do
    [ -d "$dir" ] && find "$dir" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return "$status"
}

exec 9>"$cache/build.lock"
flock 9
names=("$@")
[ ${#names[@]} -gt 0 ] || names=(dind dind-rootless)
for name in "${names[@]}"; do try_daemon "$name"; done
