#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Issue 10's properties that need the kernel's ESP, run inside the 6.12 VM. Topology of
# tests/vm/ke.sh: namespace K is a peer with kernel XFRM only; namespace E has the
# same SAs and policies in its kernel (`ip xfrm`, tunnel mode AES-GCM, in/out/fwd
# policies as an IKE daemon installs them), mirrored by `espx daemon dev we`, which
# carries the traffic. The SAs have no selector, as strongSwan installs tunnel-mode SAs:
# only the inbound policy check then stands between a decrypted packet and E's sockets.
#   sa-without-selector    the SAs carry no selector and espx carries them
#   esp-fragment-*         an ESP packet K sent, captured on K's wire and replayed to E
#                          as IPv4 fragments: esp-fragment, not delivered twice, E's
#                          kernel never decrypted it; replayed whole: replay
#   out-fragments-*        a 3000-byte UDP datagram under a `proto udp dport 4789`
#                          policy (the only one for that pair of LANs), cut by E's stack
#                          (route MTU 1400): only ESP on the wire, K delivers it whole
#   ike-ports-*            UDP 500/4500 between the protected LANs: ESP, delivered; UDP
#                          500/4500 between the gateways: plaintext, ike-bypass
#   in-policy-*            K sends from 192.168.9.1 (outside E's in policy) through the
#                          same SA: E drops it after decryption; K's LAN still arrives
# Usage: tests/vm/enforce.sh   (PASS/FAIL lines, vm-enforce-*; exit 1 if anything failed)
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/vm/lib.sh
. tests/vm/ke.sh
T_PREFIX=vm-enforce-
ESPX=$PWD/build/espx
IO="$PY $PWD/tests/vm/enforce_io.py"
K=enfK E=enfE
IK2=192.168.11.1 IE2=192.168.12.1 NK2=192.168.11.0/24 NE2=192.168.12.0/24	# UDP 4789 only
OUT=192.168.9.1 NOUT=192.168.9.0/24	# K's, outside E's in policy
IVL=200	# daemon interval, ms
TMP=$(mktemp -d /tmp/espx-enforce.XXXXXX)
CAP= SINKE= SINKK=

modprobe -a esp4 xfrm_user veth 2>/dev/null
[[ -x $ESPX ]] || { fail setup "no $ESPX (run make first)"; exit 1; }

cleanup() {
	stop "$CAP" INT; stop "$SINKE"; stop "$SINKK"; stop "$DPID"
	ke_cleanup
}
trap 'cleanup; rm -rf "$TMP"' EXIT

# espx's receive (in) or transmit (out) counters in E: "reason=packets ..." of the nonzero
drops() {
	ej stats | $PY -c '
import json, sys
d = json.load(sys.stdin)["drops"][sys.argv[1]]
print(" ".join(r + "=" + str(c["packets"]) for r, c in sorted(d.items()) if c["packets"]))' "$1"
}
# moved BEFORE AFTER REASON: how much REASON rose between two drops() lines
moved() {
	local b a
	b=$(tr ' ' '\n' <<<"$1" | sed -n "s/^$3=//p") a=$(tr ' ' '\n' <<<"$2" | sed -n "s/^$3=//p")
	echo $((${a:-0} - ${b:-0}))
}
# the kernel's XFRM MIB in E, nonzero counters
xstat() { ip netns exec $E awk '$2 != 0' /proc/net/xfrm_stat | tr -s ' \t' ' ' | tr '\n' ' '; }
# received LABEL [SINK_FILE]: how many datagrams with this label a sink got
received() { awk -v l="$1" '$4 == l' "${2:-$TMP/sinkE}" | wc -l; }
got() { (($(received "$1" "${3:-$TMP/sinkE}") >= ${2:-1})); }
# wire FILTER: how many packets E transmitted on its wire that FILTER matches
wire() { tcpdump -r "$TMP/wire.pcap" -nn "$1" 2>/dev/null | wc -l; }
esend() { ip netns exec $E $IO send "$@"; }
ksend() { ip netns exec $K $IO send "$@"; }

# --- topology ---
# E's stack cuts what does not fit 1400 bytes: a fragment plus ESP still fits the wire
ke_topology mtu 1400 || { fail setup "ip netns add"; exit 1; }
for a in $IK2 $OUT; do ip -n $K addr add $a/32 dev lo; done
ip -n $E addr add $IE2/32 dev lo
ip -n $K route add $NE2 via $WE src $IK2
ip -n $E route add $NK2 via $WK src $IE2 mtu 1400
# the spoof-like source of the in-policy check must reach espx's decision, not rp_filter's
ip netns exec $E sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.we.rp_filter=0

# --- kernel database: one SA pair, no selector; policies as an IKE daemon installs them ---
for ns in $K $E; do
	sa $ns $WK $WE 0x100 1 && sa $ns $WE $WK 0x200 2 || { fail setup "ip xfrm state add"; exit 1; }
done
pols_sel $K $WK $WE 1 2 "src $NK dst $NE" "src $NE dst $NK" &&
	pols_sel $K $WK $WE 1 2 "src $NK2 dst $NE2 proto udp sport 4789" "src $NE2 dst $NK2 proto udp dport 4789" &&
	pol $K out "src $NOUT dst $NE" $WK $WE 1 &&
	pols_sel $E $WE $WK 2 1 "src $NE dst $NK" "src $NK dst $NE" &&
	pols_sel $E $WE $WK 2 1 "src $NE2 dst $NK2 proto udp dport 4789" "src $NK2 dst $NE2 proto udp sport 4789" ||
	{ fail setup "ip xfrm policy add"; exit 1; }

# what E transmits, after espx's TC egress
ip netns exec $E tcpdump -i we -Q out -U -nn -w "$TMP/wire.pcap" ip 2>"$TMP/tcpdump.err" &
CAP=$!
wait_for 15 grep -qs listening "$TMP/tcpdump.err" || { fail setup "tcpdump: $(cat "$TMP/tcpdump.err")"; exit 1; }
# the receivers: E's LAN host, K's LAN hosts and K's gateway address
ip netns exec $E $IO sink "$TMP/sinkE" 600 $IE:7000 >"$TMP/sinkE.out" 2>&1 &
SINKE=$!
ip netns exec $K $IO sink "$TMP/sinkK" 600 $IK2:4789 $IK:500 $IK:4500 $WK:500 $WK:4500 \
	>"$TMP/sinkK.out" 2>&1 &
SINKK=$!
wait_for 20 grep -qs listening "$TMP/sinkE.out" && wait_for 20 grep -qs listening "$TMP/sinkK.out" ||
	{ fail setup "sinks: $(cat "$TMP/sinkE.out" "$TMP/sinkK.out")"; exit 1; }

start_daemon || { fail daemon-ready "$(tail -n 5 "$TMP/daemon.log")"; exit 1; }

# --- 5. the SAs have no selector, and espx carries them ---
sel=$(ip -n $E xfrm state list spi 0x100 | grep -o 'sel src [^ ]* dst [^ ]*')
if [[ $sel == "sel src 0.0.0.0/0 dst 0.0.0.0/0" && $(spis) == "0x100 0x200" ]]; then
	pass "sa-without-selector (kernel '$sel', espx carries 0x100 0x200)"
else
	fail sa-without-selector "kernel '$sel', espx carries '$(spis)' (want 0x100 0x200)"
fi
npol=$(ej policy list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
[[ $npol == 6 ]] || fail policies-mirrored "espx has $npol policies, want 6"

# --- 1. fragmented ESP is never accepted twice ---
ip netns exec $K timeout 30 tcpdump -i wk -Q out -U -nn -c 1 -w "$TMP/once.pcap" \
	"esp and src $WK and dst $WE" 2>"$TMP/once.err" &
OCAP=$!
wait_for 15 grep -qs listening "$TMP/once.err"
ksend $IK 0 $IE 7000 1000 once
ocap_done() { ! kill -0 "$OCAP" 2>/dev/null; }
wait_for 15 ocap_done; stop "$OCAP" INT
wait_for 10 got once
n=$(received once)
if ((n == 1)) && [[ -s $TMP/once.pcap ]]; then
	pass "esp-original-delivered-once"
else
	fail esp-original-delivered-once "E's socket got 'once' $n times; capture: $(tail -n 2 "$TMP/once.err")"
fi
cnt_eq() { [[ $(kpk $E 0x100) == "$(epk 0x100)" ]]; }
wait_for 5 cnt_eq || fail esp-counters-settle "kernel 0x100 $(kpk $E 0x100), espx $(epk 0x100)"
kb=$(kpk $E 0x100) eb=$(epk 0x100) d0=$(drops in) x0=$(xstat)
nf=$(ip netns exec $K $IO replay "$TMP/once.pcap" wk 256 2>&1)
frag_counted() { (($(moved "$d0" "$(drops in)" esp-fragment) >= 1)); }
wait_for 10 frag_counted
sleep $((3 * IVL / 1000 + 1))	# past a counter push: a kernel decryption would show now
d1=$(drops in) ka=$(kpk $E 0x100) ea=$(epk 0x100) x1=$(xstat) n=$(received once)
m=$(moved "$d0" "$d1" esp-fragment)
((m >= 1)) && pass "esp-fragment-counted ($nf fragments, esp-fragment +$m)" ||
	fail esp-fragment-counted "sent '$nf' fragments; receive counters $d0 -> $d1"
((n == 1)) && pass "esp-fragment-not-delivered-twice" ||
	fail esp-fragment-not-delivered-twice "E's socket got 'once' $n times (want 1): the fragmented replay was accepted"
[[ $ka == "$kb" && $ea == "$eb" && $x1 == "$x0" ]] &&
	pass "esp-fragment-kernel-never-decrypted (E's 0x100 stays at $ka packets)" ||
	fail esp-fragment-kernel-never-decrypted "E's kernel 0x100 packets $kb -> $ka, espx $eb -> $ea; xfrm_stat '$x0' -> '$x1'"
d0=$(drops in)
ip netns exec $K $IO replay "$TMP/once.pcap" wk 0 >/dev/null
replay_counted() { (($(moved "$d0" "$(drops in)" replay) >= 1)); }
wait_for 10 replay_counted
sleep 0.5
d1=$(drops in) n=$(received once)
m=$(moved "$d0" "$d1" replay)
((m >= 1 && n == 1)) && pass "esp-replay-unfragmented-dropped (replay +$m)" ||
	fail esp-replay-unfragmented-dropped "'once' delivered $n times; receive counters $d0 -> $d1"

# --- 2. outbound fragments under a port-specific policy, kernel ESP peer ---
o0=$(drops out) p0=$(epk 0x200) w0=$(wire "esp and src host $WE")
esend $IE2 0 $IK2 4789 3000 frag4789
wait_for 20 got frag4789 1 "$TMP/sinkK"
sleep 0.3
len=$(awk '$4 == "frag4789" {print $2}' "$TMP/sinkK" | tr '\n' ' ')
o1=$(drops out) p1=$(epk 0x200) w1=$(wire "esp and src host $WE")
[[ $len == "3000 " ]] && pass "out-fragments-delivered-whole (K got 3000 bytes)" ||
	fail out-fragments-delivered-whole "K's socket got '${len:-nothing}' (want 3000 once); transmit counters $o0 -> $o1"
plain=$(wire "not esp and (host $IE2 or host $IK2)")
((plain == 0 && w1 - w0 >= 3 && p1 - p0 >= 3)) &&
	pass "out-fragments-only-esp-on-wire ($((w1 - w0)) ESP, espx 0x200 +$((p1 - p0)), 0 plaintext)" ||
	fail out-fragments-only-esp-on-wire "$plain plaintext ($(tcpdump -r "$TMP/wire.pcap" -nn "not esp and (host $IE2 or host $IK2)" 2>/dev/null | head -n 2)); ESP on the wire +$((w1 - w0)), espx 0x200 +$((p1 - p0)); transmit counters $o0 -> $o1"

# --- 3. UDP 500/4500: protected between the LANs, IKE bypass between the gateways ---
o0=$(drops out) w0=$(wire "esp and src host $WE")
esend $IE 500 $IK 500 200 lan500
esend $IE 4500 $IK 4500 200 lan4500 4
esend $WE 500 $WK 500 200 gw500
esend $WE 4500 $WK 4500 200 gw4500 4
all4() { got lan500 1 "$TMP/sinkK" && got lan4500 1 "$TMP/sinkK" && got gw500 1 "$TMP/sinkK" && got gw4500 1 "$TMP/sinkK"; }
wait_for 20 all4
sleep 0.3
o1=$(drops out) w1=$(wire "esp and src host $WE")
lan=$(wire "udp and (port 500 or port 4500) and net 192.168.0.0/16")
r=$(awk '{print $4}' "$TMP/sinkK" | sort | tr '\n' ' ')
got lan500 1 "$TMP/sinkK" && got lan4500 1 "$TMP/sinkK" && ((lan == 0 && w1 - w0 >= 2)) &&
	pass "ike-ports-to-protected-host-esp-only (500 and 4500 delivered, +$((w1 - w0)) ESP, 0 plaintext)" ||
	fail ike-ports-to-protected-host-esp-only "K got: $r; $lan plaintext to 500/4500 between the LANs, ESP +$((w1 - w0)); transmit counters $o0 -> $o1"
gw=$(wire "udp and src host $WE and dst host $WK and ((src port 500 and dst port 500) or (src port 4500 and dst port 4500))")
m=$(moved "$o0" "$o1" ike-bypass)
got gw500 1 "$TMP/sinkK" && got gw4500 1 "$TMP/sinkK" && ((gw >= 2 && m >= 2)) &&
	pass "ike-between-gateways-plaintext ($gw on the wire, ike-bypass +$m)" ||
	fail ike-between-gateways-plaintext "K got: $r; $gw plaintext IKE packets on the wire; ike-bypass +$m ($o0 -> $o1)"

# --- 4. inbound policy after decryption, the kernel as the authenticated peer ---
d0=$(drops in) k0=$(kpk $K 0x100)
ksend $OUT 0 $IE 7000 100 outside
ksend $IK 0 $IE 7000 100 inside
wait_for 15 got inside
sleep 0.5
d1=$(drops in) k1=$(kpk $K 0x100)
m=$(($(moved "$d0" "$d1" inbound-no-policy) + $(moved "$d0" "$d1" inbound-template-mismatch)))
no=$(received outside)
((no == 0 && m >= 1 && k1 - k0 >= 2)) &&
	pass "in-policy-outside-selector-dropped (K encrypted it, espx: $(tr ' ' '\n' <<<"$d1" | grep -E '^inbound-' | tr '\n' ' '| sed 's/ $//'))" ||
	fail in-policy-outside-selector-dropped "E's socket got 'outside' $no times; K's kernel 0x100 packets $k0 -> $k1 (want +2); receive counters $d0 -> $d1"
got inside && pass "in-policy-lan-traffic-delivered" ||
	fail in-policy-lan-traffic-delivered "E's socket got: $(awk '{print $4}' "$TMP/sinkE" | tr '\n' ' ')"

# --- nothing between the LANs left E in plaintext, over the whole run ---
stop "$CAP" INT; CAP=
plain=$(wire "not esp and net 192.168.0.0/16")
((plain == 0)) && pass "wire-no-plaintext ($(wire "esp and src host $WE") ESP packets from E)" ||
	fail wire-no-plaintext "$plain: $(tcpdump -r "$TMP/wire.pcap" -nn "not esp and net 192.168.0.0/16" 2>/dev/null | head -n 3)"
if grep -qiE 'error|warn' "$TMP/daemon.log"; then
	echo "vm-enforce: daemon log: $(grep -iE 'error|warn' "$TMP/daemon.log" | head -n 5)"
fi
exit $_failed
