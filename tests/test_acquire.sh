#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The daemon's XFRM duties that need XFRM netlink but no kernel ESP, in namespaces of our
# own: ACQUIRE and POLEXPIRE. E (10.66.0.1, `espx daemon dev ea`) and P (10.66.0.2, a
# plain peer that answers ARP). Kernel policies without SAs, added with `ip xfrm`:
#   acquire    traffic on a tunnel policy is dropped (policy-without-sa) and the kernel
#              multicasts the daemon's XFRM_MSG_ACQUIRE (`ip xfrm monitor acquire`): the
#              packet's host selector, the policy (its selector, dir out) and the template
#              (reqid, endpoints); a transport policy's template carries the packet's
#              addresses; a flood gives one ACQUIRE a second at most
#   polexpire  `limit time-soft 1 limit time-hard 3`: mirrored, then gone from espx when
#              the kernel deletes it (POLEXPIRE, no DELPOLICY), and its traffic is no
#              longer dropped; the daemon logged soft then hard
# tests/vm/strongswan_trap.sh has the same with strongSwan answering the ACQUIRE.
source "$(dirname "$0")/lib/espx_test.sh"
need_root test_acquire
DPID= MPID=
DLOG=$(mktemp /tmp/espx-acq-d.XXXXXX) MON=$(mktemp /tmp/espx-acq-m.XXXXXX)
stop_bg() {	# the daemon and the monitor, espx unloaded
	[[ -n $MPID ]] && { kill "$MPID" 2>/dev/null; wait "$MPID" 2>/dev/null; }
	[[ -n $DPID ]] && { kill -TERM "$DPID" 2>/dev/null; wait "$DPID" 2>/dev/null; }
	MPID= DPID=
	[[ -n ${E:-} ]] && ip netns exec "$E" "$ESPX" unload >/dev/null 2>&1
}
trap 'stop_bg; rm -f "$DLOG" "$MON"; finish' EXIT INT TERM

netns_add E acqe
netns_add P acqp
if ! ip -n "$E" xfrm policy list >/dev/null 2>&1; then
	skip acquire "no XFRM netlink here (modprobe xfrm_user)"
	exit 0
fi
ip link add ea netns "$E" type veth peer name pa netns "$P"
ip -n "$E" addr add 10.66.0.1/24 dev ea; ip -n "$P" addr add 10.66.0.2/24 dev pa
ip -n "$E" link set ea up; ip -n "$P" link set pa up
for n in 10.66.9.0/24 10.66.8.0/24 10.66.7.0/24; do ip -n "$E" route add $n via 10.66.0.2 dev ea; done
in_e() { ip netns exec "$E" "$@"; }
ip -n "$E" xfrm policy add src 10.66.0.1/32 dst 10.66.9.0/24 dir out priority 100 \
	tmpl src 10.66.0.1 dst 10.66.0.2 proto esp reqid 5 mode tunnel
ip -n "$E" xfrm policy add src 10.66.0.1/32 dst 10.66.8.0/24 dir out \
	tmpl proto esp reqid 6 mode transport
# the kernel's policy index (ip -s shows it)
pindex() { ip -s -n "$E" xfrm policy list dst "$1" dir out | grep -o 'index [0-9]*' | cut -d' ' -f2; }
idx9=$(pindex 10.66.9.0/24)

ip -n "$E" xfrm monitor acquire >"$MON" 2>&1 &
MPID=$!
# not through in_e: $! must be the daemon's pid
ip netns exec "$E" "$ESPX" -v daemon --interval 250 dev ea >"$DLOG" 2>&1 &
DPID=$!
for _ in $(seq 150); do grep -qs ready "$DLOG" && break; kill -0 "$DPID" 2>/dev/null || break; sleep 0.2; done
if ! grep -qs ready "$DLOG"; then
	fail acquire_daemon_ready "$(tail -n 5 "$DLOG")"
	exit 1
fi
pass acquire_daemon_ready

nosa() { json_get "$(in_e "$ESPX" -j stats)" 'j["drops"]["out"].get("policy-without-sa", {}).get("packets", 0)'; }
# records MATCH: ACQUIREs the kernel multicast whose text (one record, joined) matches
records() {
	awk -v pat="$1" '/^acquire/ { if (rec != "" && rec ~ pat) n++; rec = $0; next }
		{ rec = rec " " $0 } END { if (rec != "" && rec ~ pat) n++; print n + 0 }' "$MON"
}

# ---- tunnel: one packet, one ACQUIRE with what the kernel's own would carry ----
d0=$(nosa)
in_e ping -c 1 -W 1 10.66.9.9 >/dev/null 2>&1
sleep 0.5
d1=$(nosa)
check acquire_packet_dropped test $((d1 - d0)) -ge 1
# (ping may send again after ENOBUFS: every ACQUIRE for the packet must be right)
want="sel src 10.66.0.1/32 dst 10.66.9.9/32 proto icmp type 8 code 0 .*policy src 10.66.0.1/32 dst 10.66.9.0/24 .*dir out priority 100 .*tmpl src 10.66.0.1 dst 10.66.0.2 .*proto esp reqid 5 mode tunnel"
n=$(records "$want")
if ((n >= 1 && n == $(records "dst 10.66.9.9/32"))); then pass acquire_tunnel_raised
else fail acquire_tunnel_raised "$n matching ACQUIREs; monitor: $(head -c 600 "$MON" | tr '\n\t' '  ')"; fi
check acquire_daemon_logged grep -q "acquire 10.66.0.1 -> 10.66.9.9: policy index $idx9, reqid 5" "$DLOG"

# ---- transport: the template's addresses are the packet's ----
in_e ping -c 1 -W 1 10.66.8.8 >/dev/null 2>&1
sleep 0.5
n=$(records "sel src 10.66.0.1/32 dst 10.66.8.8/32 .*tmpl src 10.66.0.1 dst 10.66.8.8 .*reqid 6 mode transport")
if ((n >= 1 && n == $(records "dst 10.66.8.8/32"))); then pass acquire_transport_resolved
else fail acquire_transport_resolved "$n matching ACQUIREs; monitor: $(tail -c 400 "$MON" | tr '\n\t' '  ')"; fi

# ---- rate limit: a flood, one ACQUIRE a second at most ----
sleep 1.1
before=$(records "dst 10.66.9.7/32")
d0=$(nosa)
t0=$(date +%s.%N)
in_e ping -q -i 0.01 -c 300 -w 3 10.66.9.7 >/dev/null 2>&1
t1=$(date +%s.%N)
sleep 0.5
d1=$(nosa)
n=$(($(records "dst 10.66.9.7/32") - before))
secs=$("$PY" -c "import math, sys; print(math.ceil(float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$t1")
if ((d1 - d0 >= 100 && n >= 1 && n <= secs + 1)); then
	pass "acquire_rate_limited ($((d1 - d0)) dropped in ${secs}s, $n ACQUIREs)"
else
	fail acquire_rate_limited "$((d1 - d0)) dropped, $n ACQUIREs in ${secs}s (want >= 100 and 1..$((secs + 1)))"
fi

# ---- POLEXPIRE: the kernel deletes the policy at its hard limit; the mirror follows ----
mirrored() {
	json_get "$(in_e "$ESPX" -j policy list)" "[p['index'] for p in j if p['dst'] == '10.66.7.0/24']"
}
ip -n "$E" xfrm policy add src 10.66.0.1/32 dst 10.66.7.0/24 dir out limit time-soft 1 limit time-hard 3 \
	tmpl src 10.66.0.1 dst 10.66.0.2 proto esp reqid 7 mode tunnel
idx7=$(pindex 10.66.7.0/24)
got=
for _ in $(seq 20); do [[ $(mirrored) == "[$idx7]" ]] && { got=1; break; }; sleep 0.05; done
d0=$(nosa)
in_e ping -c 1 -W 1 10.66.7.7 >/dev/null 2>&1
d1=$(nosa)
if [[ -n $got ]] && ((d1 > d0)); then pass polexpire_policy_mirrored
else fail polexpire_policy_mirrored "espx has $(mirrored), $((d1 - d0)) drops"; fi
gone=
for _ in $(seq 60); do [[ $(mirrored) == "[]" ]] && { gone=1; break; }; sleep 0.1; done
k=$(ip -n "$E" xfrm policy list dst 10.66.7.0/24 dir out | grep -c 'dir out')
if [[ -n $gone && $k == 0 ]]; then pass polexpire_mirror_dropped
else fail polexpire_mirror_dropped "espx has $(mirrored), the kernel $k such policies"; fi
d0=$(nosa)
in_e ping -c 1 -W 1 10.66.7.7 >/dev/null 2>&1
d1=$(nosa)
check polexpire_traffic_released test "$d1" = "$d0"
order=$(grep -oE "policy index $idx7 dir out: (soft|hard) expire" "$DLOG" | awk '{print $6}' | xargs)
if [[ $order == "soft hard" ]]; then pass polexpire_soft_then_hard
else fail polexpire_soft_then_hard "the daemon logged '$order': $(tail -n 5 "$DLOG")"; fi

kill -TERM "$DPID"
wait "$DPID"
rc=$?
DPID=
check acquire_daemon_exit test "$rc" = 0
