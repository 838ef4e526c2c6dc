#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# espx's kernel policy for the IPv6 it decrypts (ESPX_RX_MARK; docs/strongswan.md, "IPv6")
# under `espx daemon`, in a namespace of our own (XFRM netlink, no kernel ESP needed). It is
# wanted while an inbound IPv6 policy with a template would check what espx decrypts:
# the daemon's attach installs it (such a policy is there); it is not mirrored into espx;
# after `ip xfrm policy flush` and the policy's return the daemon adds it again; deleted
# alone, the 10 s check puts it back; without any inbound IPv6 policy the daemon removes
# it (one more inbound policy would make the kernel look up every packet); the daemon's
# stop removes it with the last device and restores the device's disable_policy.
# tests/test_v6_local.sh shows what it is for, traffic included.
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_daemon_rx_mark
DPID=
DLOG=$(mktemp /tmp/espx-rxmark.XXXXXX)
stop_daemon() {
	[[ -n $DPID ]] && { kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; }
	DPID=
}
trap 'stop_daemon; rm -f "$DLOG"; finish' EXIT INT TERM

if [[ ! -d /proc/sys/net/ipv6 ]]; then
	skip daemon_rx_mark "no IPv6 in this kernel"
	exit 0
fi
netns_add E rxme
netns_add P rxmp
if ! ip -n "$E" xfrm policy list >/dev/null 2>&1; then
	skip daemon_rx_mark "no XFRM netlink here (modprobe xfrm_user)"
	exit 0
fi
for ns in "$E" "$P"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0; done
veth_pair "$E" ea "$P" pa fd00::1/64 fd00::2/64
ip -n "$E" addr add fd02::1/128 dev lo nodad
inpol() {
	ip -n "$E" xfrm policy add src fd01::/64 dst fd02::/64 dir in priority 375423 \
		tmpl src fd00::2 dst fd00::1 proto esp reqid 7 mode tunnel
}
inpol
ours() { ip -n "$E" xfrm policy list dir in | grep -A2 'src ::/0 dst ::/0' | tr '\n\t' '  '; }
has_ours() { [[ $(ours) == *"priority 0 "*"mark 0x65737078/0xffffffff"* ]]; }
# wait_for_ours SECONDS: until the kernel has it
wait_for_ours() {
	local i
	for ((i = 0; i < $1 * 5; i++)); do has_ours && return 0; sleep 0.2; done
	return 1
}
said() { grep -c "kernel policy for the IPv6 it decrypts (dir in, mark 0x65737078) $1" "$DLOG"; }
# wait_said WHAT N SECONDS: until the daemon said WHAT N times
wait_said() {
	local i
	for ((i = 0; i < $3 * 5; i++)); do [[ $(said "$1") == "$2" ]] && return 0; sleep 0.2; done
	return 1
}

# not through a function: $! must be the daemon's pid
ip netns exec "$E" "$ESPX" daemon --interval 250 dev ea >"$DLOG" 2>&1 &
DPID=$!
for _ in $(seq 150); do grep -qs ready "$DLOG" && break; kill -0 "$DPID" 2>/dev/null || break; sleep 0.2; done
if ! grep -qs ready "$DLOG"; then
	fail daemon_rx_mark_ready "$(tail -n 5 "$DLOG")"
	exit 1
fi
pass daemon_rx_mark_ready
check daemon_rx_mark_installed has_ours
# mirrored: the kernel's other inbound policy, not espx's own
pols=$(ip netns exec "$E" "$ESPX" -j policy list)
n=$(json_get "$pols" 'len([p for p in j if p.get("dir") == "in"])')
if [[ $n == 1 && $pols != *"::/0"* ]]; then pass daemon_rx_mark_not_mirrored
else fail daemon_rx_mark_not_mirrored "espx's inbound policies: $pols"; fi

ip -n "$E" xfrm policy flush
inpol
if wait_said added 1 5 && wait_for_ours 2; then pass daemon_rx_mark_back_after_flush
else fail daemon_rx_mark_back_after_flush "policy: '$(ours)'; daemon: $(tail -n 3 "$DLOG")"; fi

ip -n "$E" xfrm policy delete dir in src ::/0 dst ::/0 mark 0x65737078 mask 0xffffffff
if wait_said added 2 15 && wait_for_ours 2; then pass daemon_rx_mark_back_after_delete
else fail daemon_rx_mark_back_after_delete "policy: '$(ours)'; daemon: $(tail -n 3 "$DLOG")"; fi

# no inbound IPv6 policy left: not needed, removed
ip -n "$E" xfrm policy delete src fd01::/64 dst fd02::/64 dir in
if wait_said removed 1 5 && ! has_ours; then pass daemon_rx_mark_removed_when_not_needed
else fail daemon_rx_mark_removed_when_not_needed "policy: '$(ours)'; daemon: $(tail -n 3 "$DLOG")"; fi
inpol
if wait_said added 3 5 && wait_for_ours 2; then pass daemon_rx_mark_added_when_needed
else fail daemon_rx_mark_added_when_needed "policy: '$(ours)'; daemon: $(tail -n 3 "$DLOG")"; fi

kill -TERM "$DPID"
wait "$DPID"
rc=$?
DPID=
check daemon_rx_mark_daemon_exit test "$rc" = 0
check daemon_rx_mark_removed_at_stop eval '! has_ours'
check daemon_rx_mark_other_policy_kept test -n "$(ip -n "$E" xfrm policy list dir in src fd01::/64 dst fd02::/64)"
check daemon_rx_mark_ea_restored test "$(ip netns exec "$E" sysctl -n net.ipv6.conf.ea.disable_policy)" = 0
