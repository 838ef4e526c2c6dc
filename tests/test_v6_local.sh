#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# IPv6 that espx decrypts, delivered to an address on another device than espx's, under a
# kernel inbound policy (as an IKE daemon installs one). A packet espx decrypted has no
# secpath, and for IPv6 delivered locally disable_policy on espx's device does not spare
# it the kernel's check (docs/strongswan.md, "IPv6"). espx marks what it decrypted
# (XDP metadata -> tcx ingress -> skb->mark) and installs one kernel policy that accepts
# that mark. In namespaces of our own, espx in static mode on both ends, the IPv6 tunnel
# fd01::/64 (B, on lo) <-> fd02::/64 (A, on lo); A also has the kernel's
#   ip xfrm policy src fd01::/64 dst fd02::/64 dir in tmpl ... proto esp mode tunnel
# Checks: espx's policy in A's kernel while attached (mark 0x65737078, dir in, priority
# 0, no template), and none in B's (no kernel policy there to need it); ping B -> A through the tunnel; the control: without espx's policy the
# kernel drops the same pings (XfrmInTmplMismatch grows); a re-attach puts it back; the
# tcx ingress link in `espx -j status`; detach and unload remove the policy.
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_v6_local
trap finish EXIT INT TERM

if [[ ! -d /proc/sys/net/ipv6 ]]; then
	skip v6_local "no IPv6 in this kernel"
	exit 0
fi
netns_add A v6la
netns_add B v6lb
if ! ip -n "$A" xfrm policy list >/dev/null 2>&1; then
	skip v6_local "no XFRM netlink here (modprobe xfrm_user)"
	exit 0
fi
for ns in "$A" "$B"; do ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.accept_dad=0; done
veth_pair "$A" a0 "$B" b0 fd00::1/64 fd00::2/64
ip -n "$A" addr add fd02::1/128 dev lo nodad
ip -n "$B" addr add fd01::1/128 dev lo nodad
ip -n "$A" route add fd01::/64 via fd00::2 src fd02::1
ip -n "$B" route add fd02::/64 via fd00::1 src fd01::1
ex() { ip netns exec "$1" "$ESPX" "${@:2}"; }
k1=$(hexkey 20) k2=$(hexkey 20)
for n in "$A" "$B"; do
	ex "$n" state add src fd00::2 dst fd00::1 proto esp spi 0x701 reqid 1 mode tunnel \
		aead 'rfc4106(gcm(aes))' 0x$k1 128 || exit 1
	ex "$n" state add src fd00::1 dst fd00::2 proto esp spi 0x702 reqid 2 mode tunnel \
		aead 'rfc4106(gcm(aes))' 0x$k2 128 || exit 1
done
ex "$B" policy add src fd01::/64 dst fd02::/64 dir out tmpl src fd00::2 dst fd00::1 \
	proto esp reqid 1 mode tunnel || exit 1
ex "$A" policy add src fd01::/64 dst fd02::/64 dir in tmpl src fd00::2 dst fd00::1 \
	proto esp reqid 1 mode tunnel || exit 1
ex "$A" policy add src fd02::/64 dst fd01::/64 dir out tmpl src fd00::1 dst fd00::2 \
	proto esp reqid 2 mode tunnel || exit 1
ex "$B" policy add src fd02::/64 dst fd01::/64 dir in tmpl src fd00::1 dst fd00::2 \
	proto esp reqid 2 mode tunnel || exit 1
# the kernel's own inbound policy, as strongSwan installs it (no kernel ESP needed; its
# priorities are large numbers: espx's, 0, comes first)
ip -n "$A" xfrm policy add src fd01::/64 dst fd02::/64 dir in priority 375423 \
	tmpl src fd00::2 dst fd00::1 proto esp reqid 1 mode tunnel
ex "$B" attach b0 >/dev/null || exit 1
ex "$A" attach a0 >/dev/null || exit 1

# espx's policy in A's kernel: dir in, mark 0x65737078/0xffffffff, priority 0, no template
ours() { ip -n "$A" xfrm policy list dir in | grep -A3 'src ::/0 dst ::/0' | tr '\n\t' '  '; }
has_ours() { [[ $(ours) == *"priority 0 "*"mark 0x65737078/0xffffffff"* && $(ours) != *tmpl* ]]; }
mismatch() { ip netns exec "$A" awk '$1 == "XfrmInTmplMismatch" {print $2}' /proc/net/xfrm_stat; }
pings() { ip netns exec "$B" ping -q -c "$1" -i 0.05 -W 1 -I fd01::1 fd02::1 2>&1 | grep -o '[0-9]* received' | cut -d' ' -f1; }

# B has no kernel policy that would check what espx decrypts: none added there
check v6_local_not_needed_not_added test -z "$(ip -n "$B" xfrm policy list)"
if has_ours; then pass v6_local_kernel_policy_installed
else fail v6_local_kernel_policy_installed "$(ip -n "$A" xfrm policy list dir in | tr '\n\t' '  ' | cut -c1-400)"; fi
got=$(pings 10)
check v6_local_ping_through_tunnel test "${got:-0}" -ge 9
rid=$(json_get "$(ex "$A" -j status)" 'j["devices"][0]["tc_ingress_prog_id"]')
check v6_local_status_tc_ingress test "${rid:-0}" -gt 0

# the control: the same pings without espx's kernel policy are the kernel's to drop
ip -n "$A" xfrm policy delete dir in src ::/0 dst ::/0 mark 0x65737078 mask 0xffffffff
m0=$(mismatch)
got=$(pings 5)
m1=$(mismatch)
if [[ ${got:-0} == 0 ]] && ((m1 - m0 >= 5)); then pass "v6_local_control_kernel_drops ($((m1 - m0)) XfrmInTmplMismatch)"
else fail v6_local_control_kernel_drops "without the policy: ${got:-0}/5 received, XfrmInTmplMismatch $m0 -> $m1"; fi

ex "$A" detach a0 >/dev/null
check v6_local_detach_removes_policy eval '! has_ours'
ex "$A" attach a0 >/dev/null || fail v6_local_reattach "espx attach a0 failed"
check v6_local_reattach_installs_policy has_ours
got=$(pings 10)
check v6_local_ping_after_reattach test "${got:-0}" -ge 9
ex "$A" unload >/dev/null
check v6_local_unload_removes_policy eval '! has_ours'
check v6_local_kernel_policy_kept test -n "$(ip -n "$A" xfrm policy list dir in src fd01::/64 dst fd02::/64)"
