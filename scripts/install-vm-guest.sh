#!/usr/bin/env bash
# Installs what the `vm` runtime handler needs, idempotently:
#   qemu-system-x86   QEMU (-M microvm; its firmware bios-microvm.bin comes with qemu-system-data)
#   busybox-static    the guest's userland and its agent's interpreter (src/runtime/vm/guest/agent.sh)
#   runc              runs containers inside the guest (copied with the libraries ldd names)
#   cpio              writes the initramfs (newc)
#   xz-utils          unpacks the kernel (QEMU boots it uncompressed)
# and builds the guest: the kernel of Debian's linux-image-amd64 (the generic flavour: the cloud
# flavour has no 9p) is fetched with `apt-get download` and unpacked, not installed, so the host's
# /boot and boot loader stay untouched. Kernel + initramfs go to DIR/<hash>/ (DIR defaults to
# /var/lib/berth/vm; DIR/current links to the newest), the hash covering every input, so a re-run
# with nothing changed does nothing.
# Usage: install-vm-guest.sh [DIR]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-${BERTH_VM_DIR:-/var/lib/berth/vm}}
guest_src="$top/src/runtime/vm/guest"
# Dependency order (the initramfs has no modules.dep): virtio over MMIO, the serial port, 9p.
modules=(virtio_ring virtio virtio_mmio virtio_console 9pnet 9pnet_virtio netfs fscache 9p)

source "$top/scripts/lib/debs.sh"
ensure_debs install-vm-guest qemu-system-x86 busybox-static runc cpio xz-utils

kernel_pkg=$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
if [ -z "$kernel_pkg" ]; then
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  kernel_pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
fi
kernel_ver=$(apt-cache policy "$kernel_pkg" | awk '/Candidate:/ {print $2}')
runc_bin=$(command -v runc)
runc_libs=$(ldd "$runc_bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}')

hash=$(
  {
    echo "$kernel_pkg $kernel_ver ${modules[*]}"
    dpkg-query -W busybox-static runc
    sha256sum "$runc_bin" $runc_libs "$guest_src"/init.sh "$guest_src"/inittab "$guest_src"/agent.sh "$0" | cut -d' ' -f1
  } | sha256sum | cut -c1-16
)
out="$dir/$hash"
if [ -f "$out/ready" ]; then
  [ "$(readlink "$dir/current" 2>/dev/null)" = "$hash" ] || ln -sfn "$hash" "$dir/current"
  echo "install-vm-guest: guest $hash present in $dir ($kernel_pkg)"
  exit 0
fi

echo "install-vm-guest: building guest $hash ($kernel_pkg $kernel_ver) in $dir"
mkdir -p "$dir/debs"
work=$(mktemp -d "$dir/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
deb=$(ls "$dir/debs/${kernel_pkg}_"*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ] || ! dpkg-deb -f "$deb" Version | grep -qxF "$kernel_ver"; then
  rm -f "$dir/debs/${kernel_pkg}_"*.deb
  # apt-get download writes into the current directory (as root it warns that _apt cannot read it).
  if ! (cd "$dir/debs" && apt-get download -q "$kernel_pkg" >"$work/download.log" 2>&1); then
    # Stale package lists name a version the mirror no longer has: update them and start over once.
    if [ -z "${BERTH_VM_GUEST_RETRY:-}" ]; then
      DEBIAN_FRONTEND=noninteractive apt-get update -qq
      rm -rf "$work"
      BERTH_VM_GUEST_RETRY=1 exec "$0" "$dir"
    fi
    cat "$work/download.log" >&2
    echo "install-vm-guest: cannot download $kernel_pkg" >&2
    exit 1
  fi
  deb=$(ls "$dir/debs/${kernel_pkg}_"*.deb)
fi
dpkg-deb -x "$deb" "$work/kernel"
release=${kernel_pkg#linux-image-}

root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,run,tmp,share,root,berth,lib/modules}
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list-full); do
  [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
done
ln -s /sbin/init "$root/init"
cp "$runc_bin" "$root/usr/sbin/runc"
for lib in $runc_libs; do
  mkdir -p "$root/$(dirname "$lib")"
  cp -L "$lib" "$root/$lib"
done
for m in "${modules[@]}"; do
  ko=$(find "$work/kernel/lib/modules/$release" -name "$m.ko" -print -quit)
  [ -n "$ko" ] || { echo "install-vm-guest: module $m missing from $kernel_pkg" >&2; exit 1; }
  cp "$ko" "$root/lib/modules/"
done
printf '%s\n' "${modules[@]}" >"$root/lib/modules/order"
cp "$guest_src"/inittab "$root/etc/inittab"
install -m 0755 "$guest_src"/init.sh "$guest_src"/agent.sh "$root/berth/"
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"

# QEMU boots the uncompressed ELF vmlinux through its PVH entry (Debian's kernel has CONFIG_PVH):
# this skips the kernel's own xz decompression, which takes seconds under TCG.
mkdir -p "$work/out"
vmlinuz="$work/kernel/boot/vmlinuz-$release"
xz_at=$(LC_ALL=C grep -abo -m1 $'\xfd7zXZ\x00' "$vmlinuz" || true) # "OFFSET:match", the first one
xz_at=${xz_at%%:*}
[ -n "$xz_at" ] || { echo "install-vm-guest: $vmlinuz is not xz-compressed" >&2; exit 1; }
# The stream only, not what follows it (tail then dies of SIGPIPE: not a failure, so no pipe).
xz -dcq --single-stream <(tail -c +"$((xz_at + 1))" "$vmlinuz") >"$work/out/vmlinux"
[ "$(head -c 4 "$work/out/vmlinux" | od -An -c | tr -d ' ')" = 177ELF ] || { echo "install-vm-guest: no ELF kernel in $vmlinuz" >&2; exit 1; }
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -6 >"$work/out/initramfs.img"
echo "$release" >"$work/out/kernel-release"
touch "$work/out/ready"
rm -rf "$out"
mv "$work/out" "$out"
ln -sfn "$hash" "$dir/current"
# Older guests go: a running QEMU read its kernel and initramfs into memory at start.
for old in "$dir"/*/; do
  old=$(basename "$old")
  [ "$old" = "$hash" ] || [ "$old" = debs ] || [ -L "$dir/$old" ] || rm -rf "${dir:?}/$old"
done
echo "install-vm-guest: guest $hash ready: $out ($(du -h "$out/initramfs.img" | cut -f1) initramfs)"
