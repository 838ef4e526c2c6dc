#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `espx status` and the daemon's heartbeat, in a namespace of our own. The
# daemon needs XFRM netlink, not kernel ESP: with no SAs and no devices it
# runs on a host kernel without ESP too. Checks: none before any daemon;
# running (pid, interval); kill -9 -> stale at once (pid gone), the message
# says kernel changes are not mirrored; restart -> running with the new
# pid; SIGSTOP -> stale while the pid lives, past 3 intervals + 2 s;
# SIGCONT -> running; SIGTERM -> none (a clean stop clears it).
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_daemon_status
DPID=
LOG=$(mktemp /tmp/espx-dstatus.XXXXXX)
stop_daemon() { [[ -n $DPID ]] && { kill -CONT "$DPID" 2>/dev/null; kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; }; DPID=; }
trap 'stop_daemon; rm -f "$LOG"; finish' EXIT INT TERM

netns_add A dst
espx() { ip netns exec "$A" "$ESPX" "$@"; }
IVL=100

if ! ip -n "$A" xfrm policy list >/dev/null 2>&1; then
	skip daemon_status "no XFRM netlink here (modprobe xfrm_user)"
	exit 0
fi
# state: the daemon's state as espx -j status reports it
state() { json_get "$(espx -j status)" 'j["daemon"]["state"]'; }
dfield() { json_get "$(espx -j status)" "j['daemon']['$1']"; }
state_is() { [[ $(state) == "$1" ]]; }
start_daemon() {
	: >"$LOG"
	# started from this shell, which stays: espx joins its mount namespace's bpffs
	# (not through the espx function: $! must be the daemon's pid)
	ip netns exec "$A" "$ESPX" daemon --interval $IVL >>"$LOG" 2>&1 &
	DPID=$!
	wait_for 30 grep -q ready "$LOG"
}

espx state add src 10.88.0.1 dst 10.88.0.2 proto esp spi 0x1001 reqid 5 mode tunnel \
	aead 'rfc4106(gcm(aes))' 0x00112233445566778899aabbccddeeff01020304 128 >/dev/null 2>&1
espx state flush >/dev/null 2>&1	# the maps are loaded, no daemon yet
check none_before_daemon state_is none
check text_none grep -qx 'daemon: none' <<<"$(espx status)"

# XFRM netlink is there (checked above): a daemon that does not start is a failure
if ! start_daemon; then
	fail daemon_status_start "espx daemon did not start: $(tail -n 3 "$LOG")"
	exit 1
fi
check running state_is running
check running_pid test "$(dfield pid)" = "$DPID"
check running_interval test "$(dfield interval_ms)" = $IVL
check running_pid_alive test "$(dfield pid_alive)" = True
check text_running grep -qE "^daemon: running, pid $DPID, last heartbeat [0-9.]+ s ago, interval $IVL ms$" \
	<<<"$(espx status)"
# it keeps beating: the age stays below the threshold across many intervals
sleep 0.5
check beats_every_interval test "$(json_get "$(espx -j status)" 'j["daemon"]["heartbeat_age_ms"] < 3 * 100')" = True

# kill -9: nothing clears the heartbeat, the dead pid makes it stale at once
old=$DPID
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
check killed_stale state_is stale
check killed_pid_not_alive test "$(dfield pid_alive)" = False
out=$(espx status)
check text_stale grep -qE "^daemon: stale: no daemon has run for [0-9.]+ s \(pid $old is gone\); kernel XFRM changes since then are not mirrored; restart it \(systemd: Restart=always\)$" \
	<<<"$out"
sleep 0.5
check stale_age_grows test "$(json_get "$(espx -j status)" 'j["daemon"]["heartbeat_age_ms"] >= 500')" = True

# restart: running again, the new pid
start_daemon || fail restart "$(tail -n 3 "$LOG")"
check restarted_running state_is running
check restarted_new_pid test "$(dfield pid)" = "$DPID"

# alive but silent (stopped): stale once 3 intervals + 2 s have passed, not before
kill -STOP "$DPID"
sleep 0.5
check stopped_briefly_still_running state_is running
if wait_for 5 state_is stale; then
	pass stopped_goes_stale
	check stopped_stale_pid_alive test "$(dfield pid_alive)" = True
	check text_stale_alive grep -qE "^daemon: stale: pid $DPID is alive but has not reported" <<<"$(espx status)"
else
	fail stopped_goes_stale "state $(state) after 5 s stopped"
fi
kill -CONT "$DPID"
check continued_running wait_for 3 state_is running

# SIGTERM: a clean stop clears the heartbeat
kill -TERM "$DPID"; wait "$DPID"; rc=$?; DPID=
check sigterm_exit_0 test "$rc" = 0
check sigterm_none state_is none
