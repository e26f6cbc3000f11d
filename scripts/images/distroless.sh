# A stand-in for gcr.io/distroless/cc-debian12:nonroot, the Dockerfile's runtime base, made as distroless makes it
# (GoogleContainerTools/distroless: static/, base/ and cc/ for debian12): Debian packages unpacked without running
# their scripts, no shell and no package manager. The packages are distroless's own list: base-files, netbase,
# tzdata, media-types (static), libc6, libssl3 (base), libgcc-s1, libstdc++6, libgomp1, gcc-12-base (cc), and
# ca-certificates as one bundle; its passwd, group and home folders (root 0, nonroot 65532, nobody 65534); /tmp
# 1777; an os-release of its own; user 65532 and /home/nonroot as the image's user and working folder.
# Not reproduced: distroless's C.utf8 locale data, its exact file timestamps and the packages' versions on its
# build day (these are the mirror's versions on ours).
# shellcheck shell=bash

DISTROLESS_REF=gcr.io/distroless/cc-debian12:nonroot
DISTROLESS_PACKAGES=(base-files netbase tzdata media-types libc6 libssl3 libgcc-s1 libstdc++6 libgomp1 gcc-12-base)

# The versions apt would download: a point release or security update on the mirror changes the key.
distroless_versions() {
  if ! apt-cache show --no-all-versions libc6 >/dev/null 2>&1; then apt-get update -qq; fi
  apt-cache show --no-all-versions "${DISTROLESS_PACKAGES[@]}" ca-certificates | grep -E '^(Package|Version):'
}

distroless_key() {
  hash_inputs "$(distroless_versions)" file:scripts/images/distroless.sh
}

distroless_etc() {
  local rootfs=$1
  cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin
EOF
  cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
nobody:x:65534:
tty:x:5:
staff:x:50:
nonroot:x:65532:
EOF
  # glibc reads users, groups and hosts from files; no NIS, no systemd.
  cat >"$rootfs/etc/nsswitch.conf" <<'EOF'
passwd:         files
group:          files
shadow:         files
hosts:          files dns
networks:       files
protocols:      files
services:       files
EOF
  cat >"$rootfs/etc/os-release" <<'EOF'
PRETTY_NAME="Distroless"
NAME="Debian GNU/Linux"
ID="debian"
VERSION_ID="12"
VERSION="Debian GNU/Linux 12 (bookworm)"
HOME_URL="https://github.com/GoogleContainerTools/distroless"
EOF
  rm -f "$rootfs/usr/lib/os-release"
  install -d -m 0700 -o 0 -g 0 "$rootfs/root"
  install -d -m 0755 -o 0 -g 0 "$rootfs/home"
  install -d -m 0700 -o 65532 -g 65532 "$rootfs/home/nonroot"
  install -d -m 1777 -o 0 -g 0 "$rootfs/tmp"
}

build_distroless() {
  local ref=$1 key=$2 work="$cache/work/distroless"
  local rootfs="$work/rootfs" debs="$work/debs"
  rm -rf "$work"
  mkdir -p "$rootfs" "$debs" "$work/ca"
  log "$ref: ${#DISTROLESS_PACKAGES[@]} Debian packages and ca-certificates"
  (cd "$debs" && apt-get download -qq -o APT::Sandbox::User=root "${DISTROLESS_PACKAGES[@]}" ca-certificates)
  local package deb
  mkdir -p "$rootfs/var/lib/dpkg/status.d"
  for package in "${DISTROLESS_PACKAGES[@]}"; do
    deb=$(find "$debs" -name "${package}_*.deb")
    dpkg-deb --extract "$deb" "$rootfs"
    # What image scanners read to know the packages, as distroless writes it (it has no dpkg status file).
    dpkg-deb --field "$deb" >"$rootfs/var/lib/dpkg/status.d/$package"
  done
  # ca-certificates' script would build the bundle: concatenate Mozilla's certificates, as distroless does.
  dpkg-deb --extract "$(find "$debs" -name 'ca-certificates_*.deb')" "$work/ca"
  install -d "$rootfs/etc/ssl/certs" "$rootfs/usr/share/doc/ca-certificates"
  find "$work/ca/usr/share/ca-certificates" -name '*.crt' -print0 | LC_ALL=C sort -z | xargs -0 cat \
    >"$rootfs/etc/ssl/certs/ca-certificates.crt"
  cp "$work/ca/usr/share/doc/ca-certificates/copyright" "$rootfs/usr/share/doc/ca-certificates/"
  distroless_etc "$rootfs"
  # Documentation and manuals: distroless keeps only copyright notices too.
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$rootfs/usr/share/man" "$rootfs/usr/share/info" "$rootfs/usr/share/lintian"

  local ctr mount
  ctr=$(bah from --quiet scratch)
  mount=$(bah mount "$ctr")
  cp -a "$rootfs/." "$mount/"
  bah umount "$ctr" >/dev/null
  rm -rf "$work"
  bah config --os linux --arch amd64 --user 65532 --workingdir /home/nonroot \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt --label "$INPUTS_LABEL=$key" "$ctr"
  bah commit --quiet --rm "$ctr" "$ref" >/dev/null
}
