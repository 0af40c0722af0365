#!/bin/sh
# PID 1's first step in the berth guest (busybox init runs it as sysinit, then the agent).
# Mounts the kernel filesystems, loads the modules of the virtio devices QEMU gives the guest
# (Debian's kernel has them as modules) and mounts the pod's 9p share.
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ln -sf /proc/self/fd /dev/fd

# Module order = dependency order (the initramfs has no modules.dep).
for m in $(cat /lib/modules/order); do
  insmod "/lib/modules/$m.ko" || echo "berth-init: insmod $m failed" >/dev/console
done

# Kernel command line: berth.share=TAG mounts the 9p share TAG on /share; berth.probe=1 only
# proves that the guest runs (the host's accelerator probe) and powers off.
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    berth.share=*) share=${arg#berth.share=} ;;
    berth.probe=1) echo "berth: probe ok" >/dev/console; reboot -f ;;
  esac
done
mkdir -p /share
if [ -n "$share" ]; then
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=mmap "$share" /share ||
    echo "berth-init: mount 9p $share failed" >/dev/console
fi
hostname berth-guest
echo "berth: init done" >/dev/console
