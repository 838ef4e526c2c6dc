#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# espx's locks live in a directory of root's own (/run/espx, user/platform/lock.h):
#  - an unprivileged user holding the old lock path (/run/lock/espx.lock) or
#    a file in /tmp changes nothing, and cannot create files in /run/espx;
#  - a symlink, a file, a directory others can write to or that another user
#    owns, at /run/espx, and a symlink at the lock file, are refused with a
#    message saying what to fix, and nothing is written through them;
#  - a lock held by another process makes a command give up within the
#    bounded wait (ESPX_LOCK_WAIT) naming the holder, and succeed when it is
#    released in time; a second daemon is refused at once, naming the first.
# Runs in a mount and network namespace of its own with private /run (a
# world-writable $T in it stands for /tmp) and bpffs, so that nothing here
# touches the machine's espx or its lock.
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_lock
if [[ ${1:-} != --inner ]]; then
	for t in unshare setpriv flock; do
		command -v $t >/dev/null || { skip test_lock "needs $t"; exit 0; }
	done
	exec unshare --mount --net --propagation private bash "$0" --inner
fi
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; exit $_failed' EXIT INT TERM
# /tmp itself stays: the checkout under test may live there (CI clones
# anywhere); T stands for a world-writable /tmp, inside the private /run
mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -m 1777 /run/lock /run/tmp &&
	mount -t bpf -o mode=0700 bpf /sys/fs/bpf && ip link set lo up ||
	{ fail lock_setup "private /run, bpffs"; exit 1; }
T=/run/tmp

RUN=/run/espx
AEAD="rfc4106(gcm(aes))"
KEY=00112233445566778899aabbccddeeff01020304
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
sa_add() {	# sa_add SPI
	"$ESPX" state add src 10.9.0.1 dst 10.9.0.2 proto esp spi "$1" reqid 1 mode tunnel \
		aead "$AEAD" 0x$KEY 128
}
sa_del() { "$ESPX" state del dst 10.9.0.2 proto esp spi "$1"; }
# held PATH: some process holds an flock on PATH (probe: a non-blocking try fails)
held() { ! flock -n "$1" true 2>/dev/null; }
reset_run() { rm -rf "$RUN"; }
stop_holders() { kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; }

# --- the directory: created root's own, closed to other users ---
check first_command_works sa_add 0x100
mode=$(stat -c '%a %u' "$RUN")
[[ $mode == "700 0" ]] && pass "run_dir_root_only ($RUN $mode)" || fail run_dir_root_only "$RUN: '$mode'"
check lock_file_private test "$(stat -c '%a %u %F' "$RUN/lock")" = "600 0 regular empty file"
if as_nobody touch "$RUN/lock" "$RUN/x" 2>/dev/null || as_nobody ls "$RUN" >/dev/null 2>&1; then
	fail nobody_cannot_enter_run_dir "nobody could touch or list $RUN"
else
	pass nobody_cannot_enter_run_dir
fi

# --- an unprivileged user holding the old lock path and a file in $T (/tmp) ---
as_nobody flock -o /run/lock/espx.lock sleep 60 &
as_nobody flock -o $T/espx.lock sleep 60 &
if wait_for 5 held /run/lock/espx.lock && wait_for 5 held $T/espx.lock; then
	pass "nobody_holds_old_lock ($(stat -c %U /run/lock/espx.lock))"
	t0=$(date +%s%N)
	ESPX_LOCK_WAIT=5 sa_add 0x101 && ESPX_LOCK_WAIT=5 sa_del 0x101 &&
		ESPX_LOCK_WAIT=5 "$ESPX" policy add src 10.8.0.0/16 dst 10.9.0.0/16 dir out \
			tmpl src 10.9.0.1 dst 10.9.0.2 proto esp reqid 1 mode tunnel
	rc=$? ms=$((($(date +%s%N) - t0) / 1000000))
	((rc == 0)) && pass "commands_ignore_user_locks (3 commands in $ms ms)" ||
		fail commands_ignore_user_locks "rc $rc after $ms ms"
else
	fail nobody_holds_old_lock "nobody could not take the old lock paths"
fi
stop_holders

# --- what a planted /run/espx looks like: refused, nothing written through it ---
mkdir -p $T/elsewhere && chmod 0777 $T/elsewhere
reset_run; ln -s $T/elsewhere "$RUN"
check_fails run_dir_symlink_refused 'is a symbolic link' sa_add 0x102
check run_dir_symlink_not_followed test -z "$(ls -A $T/elsewhere)"
reset_run; mkdir -m 0777 "$RUN"
check_fails run_dir_group_other_write_refused 'mode 0777.*no one else can write' sa_add 0x102
check run_dir_open_not_used test -z "$(ls -A "$RUN")"
reset_run; mkdir -m 0700 "$RUN"; chown nobody "$RUN"
check_fails run_dir_other_owner_refused 'owned by uid 65534' sa_add 0x102
reset_run; : >"$RUN"
check_fails run_dir_file_refused 'is not a directory' sa_add 0x102
reset_run; mkdir -m 0700 "$RUN"; ln -s $T/elsewhere/lock "$RUN/lock"
check_fails lock_file_symlink_refused 'symbolic link' sa_add 0x102
check lock_file_symlink_not_followed test ! -e $T/elsewhere/lock
reset_run; mkdir -m 0700 "$RUN"; mkfifo -m 0600 "$RUN/lock"
check_fails lock_file_fifo_refused 'not a regular file' timeout 10 "$ESPX" state add src 10.9.0.1 \
	dst 10.9.0.2 proto esp spi 0x102 aead "$AEAD" 0x$KEY 128
reset_run
check run_dir_recreated sa_add 0x102

# --- a lock held by another process: bounded wait, the holder named ---
flock -o "$RUN/lock" sleep 60 &
wait_for 5 held "$RUN/lock" || fail lock_held_setup "flock $RUN/lock"
t0=$(date +%s%N)
out=$(ESPX_LOCK_WAIT=2 sa_add 0x103 2>&1)
rc=$? ms=$((($(date +%s%N) - t0) / 1000000))
if ((rc != 0 && ms >= 2000 && ms < 6000)) && grep -qE "held by pid [0-9]+ \(flock\)" <<<"$out"; then
	pass "held_lock_bounded_wait (gave up after $ms ms)"
else
	fail held_lock_bounded_wait "rc $rc after $ms ms: $out"
fi
check held_lock_nothing_installed test -z "$("$ESPX" -j state list | grep -i '"spi": *259')"
stop_holders
# released within the wait: the command goes ahead
flock -o "$RUN/lock" sleep 1 &
wait_for 5 held "$RUN/lock"
t0=$(date +%s%N)
ESPX_LOCK_WAIT=10 sa_add 0x104
rc=$? ms=$((($(date +%s%N) - t0) / 1000000))
((rc == 0 && ms >= 300)) && pass "released_lock_waited_for ($ms ms)" ||
	fail released_lock_waited_for "rc $rc after $ms ms"
wait 2>/dev/null
out=$(ESPX_LOCK_WAIT=x sa_add 0x105 2>&1)
rc=$?
((rc == 0)) && grep -q "not 0 to 3600 seconds; waiting 30 s" <<<"$out" && pass lock_wait_bad_value_warned ||
	fail lock_wait_bad_value_warned "rc $rc: $out"

# --- one daemon per namespace: its lock lives there too, named after the
# namespace's identity (its nsfs inode, as the pin directory: pins.h) ---
DLOCK=$RUN/net-$(stat -L -c %i /proc/self/ns/net).daemon
flock -o "$DLOCK" sleep 60 &
wait_for 5 held "$DLOCK"
t0=$(date +%s%N)
check_fails second_daemon_refused 'another espx daemon runs in this network namespace \(pid [0-9]+, flock' \
	timeout 10 "$ESPX" daemon
ms=$((($(date +%s%N) - t0) / 1000000))
((ms < 2000)) && pass "second_daemon_refused_at_once ($ms ms)" || fail second_daemon_refused_at_once "$ms ms"
stop_holders
rm -f "$DLOCK"; ln -s $T/elsewhere/daemon "$DLOCK"
check_fails daemon_lock_symlink_refused 'symbolic link' timeout 10 "$ESPX" daemon
check daemon_lock_symlink_not_followed test ! -e $T/elsewhere/daemon
exit $_failed
