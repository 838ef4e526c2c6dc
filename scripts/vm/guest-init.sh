#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Stage 2 of the espx VM: PID 1 on the overlay root (host / read-only over 9p + tmpfs).
# Mounts the kernel filesystems, puts the unpacked kernel's modules at /lib/modules/$(uname -r),
# runs /mnt/espx-vm/cmd.sh with bash in the repo, its output on /dev/ttyS1 (the host's
# stdout) and in /mnt/espx-vm/output.log, and its exit status in /mnt/espx-vm/rc.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb LANG=C.UTF-8
OUT=/mnt/espx-vm
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
# what udev makes on a booted system; bash's process substitution needs /dev/fd
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/lock /run/netns && chmod 1777 /run/lock
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /var/tmp
mount -t bpf bpf /sys/fs/bpf
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
V=$(uname -r)
. "$OUT/env"	# KDIR, REPO, KEEP
# ESPX_VM_KEEP=1 on the host: a directory whose files go back (build/vm/keep/)
[[ -n ${KEEP:-} ]] && mkdir -p "$OUT/keep" && export ESPX_VM_KEEP=$OUT/keep
# The repository comes as its own share: it may live under a path the guest
# covers (a checkout in /tmp); read-only below, a tmpfs above, like the root.
mkdir -p /run/repo/lower /run/repo/upper /run/repo/work "$REPO"
mount -t 9p -o ro,trans=virtio,version=9p2000.L,msize=1048576,cache=loose repo /run/repo/lower &&
	mount -t overlay overlay \
		-o lowerdir=/run/repo/lower,upperdir=/run/repo/upper,workdir=/run/repo/work "$REPO"
mkdir -p "/lib/modules/$V" && mount --bind "$KDIR/lib/modules/$V" "/lib/modules/$V"
hostname espx-vm
ip link set lo up
echo "espx-vm: up at $(cut -d' ' -f1 /proc/uptime)s, kernel $V" >/dev/console
stty -F /dev/ttyS1 raw -echo 2>/dev/null
cd "$REPO" || { echo "espx-vm: no $REPO"; echo 125 >"$OUT/rc"; echo o >/proc/sysrq-trigger; }
set -o pipefail
: >"$OUT/started"	# the host retries a boot that died before this
bash "$OUT/cmd.sh" </dev/null 2>&1 | tee "$OUT/output.log" >/dev/ttyS1
rc=$?
echo "$rc" >"$OUT/rc"
sync
echo "espx-vm: command exited $rc at $(cut -d' ' -f1 /proc/uptime)s" >/dev/console
echo o >/proc/sysrq-trigger
sleep 30
