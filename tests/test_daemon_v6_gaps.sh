#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The daemon says which local IPv6 addresses the kernel would drop what espx decrypts for.
# A packet espx decrypted has no secpath; for IPv6 delivered locally the kernel skips its
# inbound policy check only when the destination address's device has disable_policy
# (docs/strongswan.md, "IPv6"). In a namespace of our own, with kernel policies added by
# `ip xfrm` (XFRM netlink, no kernel ESP needed) and `espx daemon dev ea`:
#   named      fd02::1 on lo, under an inbound tunnel policy (fd01::/64 -> fd02::/64)
#   not named  fd02::2 on ea (espx's device: disable_policy), fd03::1 (no policy),
#              fd04::1 (an optional template, "level use")
#   cleared    lo's disable_policy set, SIGHUP: the daemon says none is left
#   later      an address added on another device (eb) is named within the 10 s re-check
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_daemon_v6_gaps
DPID=
DLOG=$(mktemp /tmp/espx-v6gap.XXXXXX)
stop_daemon() {
	[[ -n $DPID ]] && { kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; }
	DPID=
}
trap 'stop_daemon; rm -f "$DLOG"; finish' EXIT INT TERM

if [[ ! -d /proc/sys/net/ipv6 ]]; then
	skip daemon_v6_gaps "no IPv6 in this kernel"
	exit 0
fi
netns_add E v6ge
netns_add P v6gp
if ! ip -n "$E" xfrm policy list >/dev/null 2>&1; then
	skip daemon_v6_gaps "no XFRM netlink here (modprobe xfrm_user)"
	exit 0
fi
for ns in "$E" "$P"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0; done
veth_pair "$E" ea "$P" pa fd00::1/64 fd00::2/64
veth_pair "$E" eb "$P" pb fd05::1/64 fd05::2/64
ip -n "$E" addr add fd02::1/128 dev lo nodad
ip -n "$E" addr add fd02::2/128 dev ea nodad
ip -n "$E" addr add fd03::1/128 dev lo nodad
ip -n "$E" addr add fd04::1/128 dev lo nodad
ip -n "$E" xfrm policy add src fd01::/64 dst fd02::/64 dir in \
	tmpl src fd00::2 dst fd00::1 proto esp reqid 7 mode tunnel
ip -n "$E" xfrm policy add src fd01::/64 dst fd04::/64 dir in \
	tmpl src fd00::2 dst fd00::1 proto esp reqid 8 mode tunnel level use

# the daemon's warning lines about it
gaps() { grep 'is dropped by the kernel' "$DLOG"; }
# wait_log PATTERN SECONDS
wait_log() {
	local i
	for ((i = 0; i < $2 * 5; i++)); do grep -qs -- "$1" "$DLOG" && return 0; sleep 0.2; done
	return 1
}

# not through a function: $! must be the daemon's pid
ip netns exec "$E" "$ESPX" daemon --interval 250 dev ea >"$DLOG" 2>&1 &
DPID=$!
if ! wait_log ready 30; then
	fail daemon_v6_gaps_ready "$(tail -n 5 "$DLOG")"
	exit 1
fi
pass daemon_v6_gaps_ready
if wait_log 'is dropped by the kernel' 5 && [[ $(gaps | wc -l) == 1 ]] &&
	gaps | grep -q 'decrypts for fd02::1 (lo) is dropped' &&
	gaps | grep -q 'net.ipv6.conf.DEVICE.disable_policy=1'; then
	pass daemon_v6_gaps_named
else fail daemon_v6_gaps_named "want one warning naming only fd02::1 (lo): $(gaps | head -c 400)"; fi
check daemon_v6_gaps_espx_dev_not_named eval "! gaps | grep -q 'fd02::2'"
check daemon_v6_gaps_no_policy_not_named eval "! gaps | grep -q 'fd03::1'"
check daemon_v6_gaps_optional_not_named eval "! gaps | grep -q 'fd04::1'"
check daemon_v6_gaps_ea_disable_policy test "$(ip netns exec "$E" sysctl -n net.ipv6.conf.ea.disable_policy)" = 1

ip netns exec "$E" sysctl -qw net.ipv6.conf.lo.disable_policy=1
kill -HUP "$DPID"
if wait_log 'every local IPv6 address under an inbound policy' 5; then pass daemon_v6_gaps_cleared
else fail daemon_v6_gaps_cleared "no 'every local IPv6 address ...' after lo's disable_policy and SIGHUP: $(tail -n 3 "$DLOG")"; fi

# a new address, no event for it: the periodic re-check (10 s) finds it
ip -n "$E" addr add fd02::9/128 dev eb nodad
if wait_log 'decrypts for fd02::9 (eb) is dropped' 15; then pass daemon_v6_gaps_new_address
else fail daemon_v6_gaps_new_address "fd02::9 on eb not named within 15 s: $(tail -n 3 "$DLOG")"; fi

kill -TERM "$DPID"
wait "$DPID"
rc=$?
DPID=
check daemon_v6_gaps_daemon_exit test "$rc" = 0
check daemon_v6_gaps_ea_restored test "$(ip netns exec "$E" sysctl -n net.ipv6.conf.ea.disable_policy)" = 0
