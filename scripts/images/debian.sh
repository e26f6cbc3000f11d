# The Debian base of the node and runner stand-ins: debootstrap's minbase (Essential and apt), upgraded from the
# suite's updates and security archives, made slim as Debian's -slim images are.
# shellcheck shell=bash

DEBIAN_REF=localhost/kar-debian:$DEBIAN_SUITE

debian_key() {
  hash_inputs "$DEBIAN_SUITE" "$DEBIAN_MIRROR" "$DEBIAN_SECURITY_MIRROR" file:scripts/images/debian.sh
}

# What apt and dpkg do in the image: no documentation, manuals or translations (copyright notices stay), no
# package lists or downloaded packages left behind by an install.
debian_slim_config() {
  local rootfs=$1
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/kar-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/kar-slim" <<'EOF'
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
EOF
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $DEBIAN_SUITE $DEBIAN_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $DEBIAN_SECURITY_MIRROR
Suites: $DEBIAN_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # What the excludes would have kept out, had dpkg known them when debootstrap installed.
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/{man,info,groff,lintian,locale}/*
}

build_debian() {
  local ref=$1 key=$2 rootfs="$cache/work/debian-rootfs"
  rm -rf "$rootfs"
  mkdir -p "$cache/work"
  log "$ref: debootstrap --variant=minbase $DEBIAN_SUITE"
  debootstrap --variant=minbase "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$cache/work/debootstrap.log" 2>&1 || {
    tail -20 "$cache/work/debootstrap.log" >&2
    return 1
  }
  debian_slim_config "$rootfs"
  # An image's /dev, resolv.conf and hostname come from its runtime; debootstrap leaves the host's.
  rm -rf "${rootfs:?}"/dev/* "$rootfs/etc/resolv.conf" "$rootfs/etc/hostname" "$rootfs"/var/cache/apt/archives/*.deb \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* "$rootfs"/tmp/*

  local ctr mount
  ctr=$(bah from --quiet scratch)
  mount=$(bah mount "$ctr")
  cp -a "$rootfs/." "$mount/"
  bah umount "$ctr" >/dev/null
  rm -rf "$rootfs"
  bah config --os linux --arch amd64 --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd bash --label "$INPUTS_LABEL=$key" "$ctr"
  log "$ref: apt-get upgrade from $DEBIAN_SUITE-updates and -security"
  bah run --isolation chroot --network host "$ctr" -- sh -ec '
    export DEBIAN_FRONTEND=noninteractive DEBCONF_NOWARNINGS=yes
    apt-get update -qq
    apt-get upgrade -y -qq >/dev/null
    rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log'
  bah commit --quiet --rm "$ctr" "$ref" >/dev/null
}
