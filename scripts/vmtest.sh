#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# vmtest.sh [-t TIMEOUT] [-m MEM] [-c CPUS] [-k 6.12|6.17|7.3] -- CMD...
# Boot a Debian kernel with kernel ESP and BPF crypto under qemu (-k, or ESPX_VM_KERNEL:
# 6.12, Debian 12's, the default; 6.17 and 7.3, Debian 13's backports kernels) and run CMD
# with bash inside, cwd = this repository. The guest's root is the host's / over 9p,
# read-only, under a tmpfs overlay: host tools and the current build/ work unchanged, and
# nothing the guest writes reaches the host. The kernel comes from apt (scripts/vm/
# fetch-kernel.sh, cached in /var/cache/espx/vm); host packages from scripts/vm/deps.sh.
# Always TCG (-accel tcg,thread=multi -cpu max): /dev/kvm on some hosts is a software
# hypervisor that stock kernels crash on. ESPX_VM_ACCEL=kvm overrides.
# ESPX_VM_TCG_THREAD=single runs all vCPUs in one TCG thread: the daemon suite does,
# because under thread=multi the guest's live code patching (static keys that attach and
# detach flip) now and then ran stale code on the other vCPU (a NULL dereference in
# dump_one_state with impossible EFLAGS). Not the default: on a loaded host the interop
# suite got less far in its time single than multi (43 against 48 checks).
# CMD's output goes to stdout as it runs. Logs: build/vm/console.log (kernel console),
# build/vm/output.log (CMD's output). ESPX_VM_KEEP=1: CMD finds a writable directory
# in $ESPX_VM_KEEP (in the guest) whose files come back in build/vm/keep/.
# Exit status: CMD's, else 124 = timeout (default 300 s), 125 = guest crashed / no status,
# 126 = the VM could not be set up; the last line on stderr says why, and starts with
#   "vmtest: unavailable:" only where this machine cannot run the VM at all (not root,
#     qemu or the kernel package cannot be had from apt: a test may skip),
#   "vmtest: setup failed:" where the project's own setup failed (a script of scripts/vm/,
#     the initramfs, the lock: a test must fail).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMO=300 MEM=2G CPUS=$(nproc) SERIES=${ESPX_VM_KERNEL:-6.12}
((CPUS > 4)) && CPUS=4
while getopts t:m:c:k: o; do
	case $o in
	t) TMO=$OPTARG ;; m) MEM=$OPTARG ;; c) CPUS=$OPTARG ;; k) SERIES=$OPTARG ;;
	*) sed -n '3,18p' "$0" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[[ ${1:-} == -- ]] && shift
(($#)) || { sed -n '3,18p' "$0" >&2; exit 2; }
unavailable() { echo "vmtest: unavailable: $*" >&2; exit 126; }
setup_fail() { echo "vmtest: setup failed: $*" >&2; exit 126; }

[[ $(id -u) == 0 ]] || unavailable "needs root (the 9p root is exported with the host's permissions)"
# deps.sh and fetch-kernel.sh exit 3 when apt cannot provide a package; anything else is theirs
"$ROOT/scripts/vm/deps.sh" >&2
rc=$?
((rc == 3)) && unavailable "host packages cannot be installed (scripts/vm/deps.sh)"
((rc == 0)) || setup_fail "scripts/vm/deps.sh exited $rc"
command -v qemu-system-x86_64 >/dev/null || unavailable "no qemu-system-x86_64"
KDIR=$("$ROOT/scripts/vm/fetch-kernel.sh" "$SERIES")
rc=$?
((rc == 3)) && unavailable "no $SERIES kernel package to be had (scripts/vm/fetch-kernel.sh)"
((rc == 0)) || setup_fail "scripts/vm/fetch-kernel.sh exited $rc"
V=$(basename "$(ls -d "$KDIR"/lib/modules/*/ | head -n1)")
KERNEL=$KDIR/boot/vmlinuz-$V
# the initramfs is rebuilt when scripts/vm/init changes
sum=$(cat "$ROOT/scripts/vm/init" "$ROOT/scripts/vm/build-initramfs.sh" | md5sum | cut -c1-12)
INITRD=$KDIR/espx-initramfs-$sum.cpio.gz
if [[ ! -f $INITRD ]]; then
	rm -f "$KDIR"/espx-initramfs-*.cpio.gz
	"$ROOT/scripts/vm/build-initramfs.sh" "$KDIR" "$INITRD" ||
		setup_fail "initramfs build failed (scripts/vm/build-initramfs.sh exited $?)"
fi

# One VM at a time per host: TCG guests on a small machine starve each other into timeouts.
# (ESPX_VM_LOCK: another lock file, for tests of this script that boot no VM)
LOCKF=${ESPX_VM_LOCK:-/run/lock/espx-vmtest.lock}
exec 9>"$LOCKF" && flock 9 || setup_fail "cannot take $LOCKF"
LOGDIR=$ROOT/build/vm
mkdir -p "$LOGDIR" || setup_fail "cannot create $LOGDIR"
XCH=$(mktemp -d /tmp/espx-vm.XXXXXX)	# shared read-write with the guest (tag vmout)
trap 'rm -rf "$XCH"' EXIT
{
	echo "set -u"
	printf '%q ' "$@"
	echo
} >"$XCH/cmd.sh"
printf 'KDIR=%q\nREPO=%q\nKEEP=%q\n' "$KDIR" "$ROOT" "${ESPX_VM_KEEP:-}" >"$XCH/env"
rm -rf "$LOGDIR"/console.log "$LOGDIR"/output.log "$LOGDIR"/keep

ACCEL=${ESPX_VM_ACCEL:-tcg}
case $ACCEL in
kvm) ACC=(-accel kvm -cpu host) ;;
*) ACC=(-accel "tcg,thread=${ESPX_VM_TCG_THREAD:-multi},tb-size=256" -cpu max) ;;
esac
t0=$EPOCHREALTIME
# About one TCG boot in 30 panics in the guest kernel before the command
# starts (int3 in sched_clock_cpu): such a boot is retried once, and said.
for attempt in 1 2; do
	rm -f "$XCH/started" "$XCH/rc" "$XCH/output.log"
	timeout -k 5 "$TMO" qemu-system-x86_64 "${ACC[@]}" -smp "$CPUS" -m "$MEM" \
		-nographic -nodefaults -no-user-config -no-reboot \
		-kernel "$KERNEL" -initrd "$INITRD" \
		-append "console=ttyS0 panic=-1 quiet loglevel=4 espx.repo=$ROOT" \
		-chardev file,id=con,path="$LOGDIR/console.log" -serial chardev:con \
		-chardev stdio,id=out,signal=off -serial chardev:out \
		-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap,id=hostroot \
		-virtfs local,path="$XCH",mount_tag=vmout,security_model=none,id=vmout \
		-virtfs local,path="$ROOT",mount_tag=repo,security_model=none,readonly=on,multidevs=remap,id=repo \
		</dev/null | tr -d '\r'
	qrc=${PIPESTATUS[0]}
	if [[ -f $XCH/started || -f $XCH/rc ]] || ((qrc == 124 || qrc == 137 || attempt == 2)); then
		break
	fi
	mv "$LOGDIR/console.log" "$LOGDIR/console-boot$attempt.log"
	echo "vmtest: the guest died while booting, before the command started (qemu $qrc; console in build/vm/console-boot$attempt.log); booting once more" >&2
	grep -m1 -E 'Kernel panic|RIP:|int3' "$LOGDIR/console-boot$attempt.log" >&2
done
wall=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN{printf "%.1f", b-a}')
[[ -f $XCH/output.log ]] && cp "$XCH/output.log" "$LOGDIR/output.log"
[[ -d $XCH/keep ]] && cp -r "$XCH/keep" "$LOGDIR/keep"
if [[ -f $XCH/rc ]]; then
	rc=$(<"$XCH/rc")
	echo "vmtest: kernel $V, ${wall}s, exit $rc (logs in build/vm/)" >&2
	exit "$rc"
fi
if ((qrc == 124 || qrc == 137)); then
	echo "vmtest: timeout after ${TMO}s (kernel $V); console tail:" >&2
	tail -n 15 "$LOGDIR/console.log" >&2
	exit 124
fi
echo "vmtest: guest ended without an exit status (qemu $qrc, ${wall}s); console tail:" >&2
tail -n 25 "$LOGDIR/console.log" >&2
exit 125
