#!/usr/bin/env bash
# Builds the two Debian root filesystems of the delta benchmark (cached under bench/out/):
#   rootfs-v1: debootstrap --variant=minbase bookworm (release packages only)
#   rootfs-v2: v1 + bookworm-updates/bookworm-security upgrades + a few added packages
# Then commits both into the archive repo bench/out/repo (refs bench/v1, bench/v2).
# Needs root, debootstrap, ostree and the machine's Debian mirror.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${BENCH_OUT:-$here/../out}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

# The mirror configured for apt on this machine (deb822 or one-line format).
mirror="$(grep -hE '^(URIs:|deb )' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null \
  | grep -v security | grep -oE 'https?://[^ ]+/debian' | head -1 || true)"
mirror="${MIRROR:-${mirror:-http://deb.debian.org/debian}}"
security="${mirror%/debian}/debian-security"
extra_packages="${EXTRA_PACKAGES:-curl ca-certificates less iproute2 python3-minimal procps kmod}"

sanitize() { # ostree commits only regular files, symlinks and directories
  local root="$1"
  rm -rf "$root"/dev/* "$root"/proc/* "$root"/sys/* "$root"/run/* "$root"/tmp/* \
         "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* || true
  find "$root" -xdev ! -type f ! -type d ! -type l -delete
}

if [ ! -d "$out/rootfs-v1" ]; then
  rm -rf "$out/rootfs-v1.tmp"
  debootstrap --variant=minbase bookworm "$out/rootfs-v1.tmp" "$mirror"
  sanitize "$out/rootfs-v1.tmp"
  mv "$out/rootfs-v1.tmp" "$out/rootfs-v1"
fi

if [ ! -d "$out/rootfs-v2" ]; then
  rm -rf "$out/rootfs-v2.tmp"
  cp -a "$out/rootfs-v1" "$out/rootfs-v2.tmp"
  r="$out/rootfs-v2.tmp"
  mkdir -p "$r/dev" "$r/proc"
  for n in null zero random urandom; do cp -a "/dev/$n" "$r/dev/$n"; done
  cat > "$r/etc/apt/sources.list" <<SRC
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
SRC
  cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
  mount -t proc proc "$r/proc"
  trap 'umount "$r/proc" 2>/dev/null || true' EXIT
  chroot "$r" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get update
  chroot "$r" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -y upgrade
  chroot "$r" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C apt-get -y install --no-install-recommends $extra_packages
  chroot "$r" apt-get clean
  umount "$r/proc"
  trap - EXIT
  sanitize "$r"
  mv "$r" "$out/rootfs-v2"
fi

repo="$out/repo"
if [ ! -f "$repo/config" ]; then
  ostree init --mode=archive --repo="$repo"
fi
for v in v1 v2; do
  if ! ostree --repo="$repo" rev-parse "bench/$v" >/dev/null 2>&1; then
    ostree --repo="$repo" commit --branch="bench/$v" --subject="bench $v" \
      --timestamp="2025-05-20 00:00:00 +0000" --tree=dir="$out/rootfs-$v" >/dev/null
  fi
done
echo "v1=$(ostree --repo="$repo" rev-parse bench/v1) v2=$(ostree --repo="$repo" rev-parse bench/v2)"
