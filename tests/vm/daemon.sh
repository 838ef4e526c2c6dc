#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `espx daemon` against the kernel's XFRM database, run inside the 6.12 VM (kernel ESP).
# Namespace K: a peer with kernel XFRM only. Namespace E: the same SAs and policies
# programmed into E's kernel with `ip xfrm` (as an IKE daemon would), mirrored by
# `espx daemon dev we`, which carries the traffic. Checks, in order:
#   sync       SAs and policies mirrored; a CBC SA left to the kernel and listed as such
#   traffic    ping + TCP sha256 both ways; only ESP on the wire; espx counted the packets
#   curlft     E's `ip -s xfrm state` shows espx's packet counts (NEWAE) within 2 intervals
#   hwm        the kernel's oseq follows espx's each interval; `espx state del` + SIGHUP
#              reinstalls the SA 1024 above espx's last number, traffic continues
#   rekey      under a steady ping both ways: new SA pair added, old deleted: new SPIs
#              carry the flow, no replay or integrity failure on either side
#   sighup     full resync: `espx state|policy add` entries the kernel lacks removed,
#              a policy deleted from espx alone back, the kernel's SAs kept
#   expiry     packet soft/hard limits: `ip xfrm monitor` sees soft then hard expire; gone
#   policies   2000 host policies; a priority-1 host block wins (espx counts policy-block)
#   handover   traffic, espx detach (kernel ESP sends), traffic, attach, traffic:
#              no sequence number twice on the wire for one SPI
#   restart    kill -9: traffic continues and `espx status` says stale at once;
#              restart: status running, counters and numbers continue, and
#              an older protect policy still wins over a newer equal-priority bypass
#   lock       /run/espx/lock held by another process: the daemon waits without
#              spinning and applies the change once it is free
#   stop       SIGTERM: sysctls restored, kernel ESP carries on, no number reused;
#              status says no daemon (none)
# Usage: tests/vm/daemon.sh   (PASS/FAIL lines; exit 1 if anything failed)
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/vm/lib.sh
. tests/vm/ke.sh
T_PREFIX=daemon-
ESPX=$PWD/build/espx
K=dmK E=dmE
KE_SEL=1	# these SAs carry the LANs as selector
IVL=200	# daemon interval, ms
SIZE=${ESPX_VM_XFER_BYTES:-262144}
TMP=$(mktemp -d /tmp/espx-daemon.XXXXXX)
CAP=

modprobe -a esp4 esp6 xfrm_user veth 2>/dev/null
[[ -x $ESPX ]] || { fail setup "no $ESPX (run make first)"; exit 1; }

cleanup() {
	stop "$CAP" INT; stop "$DPID"
	ke_cleanup
}
trap 'cleanup; rm -rf "$TMP"' EXIT
DATA=$TMP/data
head -c "$SIZE" /dev/urandom >"$DATA"
WANT="$SIZE $(sha256sum "$DATA" | cut -d' ' -f1)"

ping_ok() { ip netns exec "$1" ping -c "${3:-3}" -i 0.05 -W 3 -I "$2" "$4" >/dev/null 2>&1; }
# xmon_ready PID: `ip xfrm monitor` (PID) has its XFRM netlink socket in its
# groups, so no expire from now on is missed
xmon_ready() {
	ip netns exec $E awk -v p="$1" '$2 == 6 && $3 == p && $4 != "00000000" {f = 1} END {exit !f}' \
		/proc/net/netlink
}
# pol_is SRC DST DIR ACTION PRIORITY: espx holds that policy
pol_is() {
	ej policy list | $PY -c 'import json, sys
a = sys.argv[1:]
sys.exit(not any([p["src"], p["dst"], p["dir"], p["action"], str(p["priority"])] == a for p in json.load(sys.stdin)))' "$@"
}
# edrop DIR REASON...: espx's drop counters (packets), one line
edrop() {
	ej stats | $PY -c 'import json,sys; d=json.load(sys.stdin)["drops"][sys.argv[1]]
print(" ".join("%s=%d" % (r, d[r]["packets"]) for r in sys.argv[2:]))' "$@"
}
# kstat: K's replay and integrity failures (/proc/net/xfrm_stat), one line
kstat() { ip netns exec $K awk '$1 ~ /^XfrmInState(Seq|Proto)Error$/ {printf "%s=%s ", $1, $2}' /proc/net/xfrm_stat; }

# --- topology, kernel database, daemon ---
ke_topology || { fail setup "ip netns add"; exit 1; }
for ns in $K $E; do
	sa $ns $WK $WE 0x100 1 && sa $ns $WE $WK 0x200 2 || { fail setup "ip xfrm state add"; exit 1; }
done
pols $K k 1 2 && pols $E e 2 1 || { fail setup "ip xfrm policy add"; exit 1; }
# not AES-GCM: stays with the kernel
ip -n $E xfrm state add src $WE dst 10.0.0.9 proto esp spi 0x999 mode tunnel \
	enc 'cbc(aes)' 0x$(hexkey 16) auth-trunc 'hmac(sha256)' 0x$(hexkey 32) 128
# what E transmits (K's receive tap would also show what K decapsulated)
ip netns exec $E tcpdump -i we -Q out -U -nn -w "$TMP/wire.pcap" ip 2>"$TMP/tcpdump.err" &
CAP=$!
wait_for 5 grep -qs listening "$TMP/tcpdump.err"

start_daemon && pass "starts (ready)" || { fail starts "$(tail -n 5 "$TMP/daemon.log")"; exit 1; }
[[ $(spis) == "0x100 0x200" ]] && pass "sync-sas" || fail sync-sas "espx has '$(spis)', want '0x100 0x200'"
n=$(ej policy list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
[[ $n == 3 ]] && pass "sync-policies" || fail sync-policies "espx has $n policies, want 3"
why=$(ej state list | $PY -c 'import json,sys; print([s.get("kernel","") for s in json.load(sys.stdin) if s["spi"]==0x999])')
[[ $why == *cbc* ]] && pass "declined-listed ($why)" || fail declined-listed "state list: $why"
for f in disable_xfrm disable_policy; do
	v=$(ip netns exec $E cat /proc/sys/net/ipv4/conf/we/$f)
	[[ $v == 1 ]] && pass "sysctl-$f-set" || fail "sysctl-$f-set" "$v"
done

# --- traffic ---
ping_ok $K $IK 5 $IE && pass "ping-k-to-e" || fail ping-k-to-e "$(tail -n 3 "$TMP/daemon.log")"
ping_ok $E $IE 5 $IK && pass "ping-e-to-k" || fail ping-e-to-k ""
xfer tcp-k-to-e $E $IE $K $IK 7101 60
xfer tcp-e-to-k $K $IK $E $IE 7102 60
e1=$(epk 0x200)
((e1 > 10)) && pass "espx-carried ($e1 packets out)" || fail espx-carried "espx out packets: '$e1'"
cnt_eq() { [[ $(kpk $E 0x200) == "$(epk 0x200)" && $(kpk $E 0x100) == "$(epk 0x100)" ]]; }
wait_for 3 cnt_eq && pass "curlft-pushed (kernel $(kpk $E 0x200)/$(kpk $E 0x100) = espx)" ||
	fail curlft-pushed "kernel 0x200 $(kpk $E 0x200) vs espx $(epk 0x200); 0x100 $(kpk $E 0x100) vs $(epk 0x100)"

# --- high-water mark: espx's numbers reach the kernel each interval, and an SA
#     deleted from espx alone (the kernel keeps it) comes back above them ---
# koseq_ge SPI N: the kernel's output number for SPI has reached N
koseq_ge() { (($(koseq "$1") >= $2)); }
ping_ok $E $IE 5 $IK
o1=$(eoseq 0x200)
wait_for 3 koseq_ge 0x200 "$o1"
k1=$(koseq 0x200)
((o1 > 10 && k1 >= o1)) && pass "oseq-pushed-to-kernel (espx $o1, kernel $k1)" ||
	fail oseq-pushed-to-kernel "espx $o1, kernel $k1"
o1=$(eoseq 0x200)
ip netns exec $E "$ESPX" state del dst $WK proto esp spi 0x200 >/dev/null 2>&1
kill -HUP "$DPID"
wait_for 5 spis_has 0x200
o2=$(eoseq 0x200)
# the kernel would restart at its own (pushed) number; the mark puts espx 1024 above
((o2 >= o1 + 1024)) && pass "reinstall-above-high-water-mark (espx had $o1, now $o2)" ||
	fail reinstall-above-high-water-mark "before $o1, reinstalled at $o2"
ping_ok $E $IE 5 $IK && (($(eoseq 0x200) > o2)) && pass "traffic-after-reinstall" ||
	fail traffic-after-reinstall "espx oseq $o2 -> $(eoseq 0x200)"
o3=$(eoseq 0x200)
wait_for 3 koseq_ge 0x200 "$o3"
k3=$(koseq 0x200)
((k3 >= o3)) && pass "kernel-oseq-follows-after-reinstall (kernel $k3, espx $o3)" ||
	fail kernel-oseq-follows-after-reinstall "kernel $k3, espx $o3"

# --- rekey under traffic, as an IKE daemon does it: while pings flow both
#     ways, a new pair with the same reqids (the policies' templates take the
#     newest SA), each inbound SA before its outbound peer; then each side
#     stops sending on the old pair before the old inbound SAs go. The flow
#     continues; nothing fails its replay or integrity check on either side ---
k0=$(kstat) e0=$(edrop in replay replay-left-of-window icv-mismatch)
# the flows run until the rekey is done and the new pair has carried some
# of them (TCG makes each step slow), then SIGINT: ping prints its counts
ip netns exec $E ping -i 0.02 -w 120 -I $IE $IK >"$TMP/ping-rekey-e" 2>&1 &
r1=$!
ip netns exec $K ping -i 0.02 -w 120 -I $IK $IE >"$TMP/ping-rekey-k" 2>&1 &
r2=$!
b=$(epk 0x200)
flowing() { (($(epk 0x200) >= b + 10)); }
wait_for 10 flowing
sa $E $WK $WE 0x101 1; sa $K $WE $WK 0x201 2
wait_for 5 spis_has 0x101
sa $K $WK $WE 0x101 1; sa $E $WE $WK 0x201 2
wait_for 5 spis_eq "0x100 0x101 0x200 0x201"
# senders first (E's 0x200 is espx's), then the old inbound SAs
ip -n $E xfrm state del src $WE dst $WK proto esp spi 0x200
ip -n $K xfrm state del src $WK dst $WE proto esp spi 0x100
old_out_gone() { [[ $(spis) != *0x200* ]]; }
wait_for 5 old_out_gone
ip -n $K xfrm state del src $WE dst $WK proto esp spi 0x200
ip -n $E xfrm state del src $WK dst $WE proto esp spi 0x100
wait_for 5 spis_eq "0x101 0x201" &&
	pass "rekey-mirrored" || fail rekey-mirrored "espx has '$(spis)'"
# both new SAs carry the flows: espx sends on 0x201 and receives on 0x101
new_flowing() { (($(epk 0x201) >= 10 && $(epk 0x101) >= 10)); }
wait_for 10 new_flowing
kill -0 $r1 2>/dev/null && kill -0 $r2 2>/dev/null && during=1 || during=0
kill -INT $r1 $r2 2>/dev/null; wait $r1 $r2
# "N packets transmitted, M received": what was lost
lost() { sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1 \2/p' "$1"; }
read -r tx_e rx_e <<<"$(lost "$TMP/ping-rekey-e")"
read -r tx_k rx_k <<<"$(lost "$TMP/ping-rekey-k")"
# at most the requests still in flight at the SIGINT (round trips under TCG
# can be several times the 20 ms interval); a rekey gap loses far more
((during && tx_e > 50 && tx_k > 50 && tx_e - rx_e <= 5 && tx_k - rx_k <= 5)) &&
	pass "rekey-under-traffic (E->K $rx_e/$tx_e, K->E $rx_k/$tx_k replies; 0x201 $(epk 0x201), 0x101 $(epk 0x101) packets)" ||
	fail rekey-under-traffic "flows running to the end: $during; replies E->K ${rx_e:-?}/${tx_e:-?}, K->E ${rx_k:-?}/${tx_k:-?}; 0x201 $(epk 0x201), 0x101 $(epk 0x101) packets"
k1=$(kstat) e1=$(edrop in replay replay-left-of-window icv-mismatch)
[[ -n $k0 && -n $e0 && $k1 == "$k0" && $e1 == "$e0" ]] &&
	pass "rekey-no-replay-or-integrity-failure" ||
	fail rekey-no-replay-or-integrity-failure "K: $k0-> $k1; espx: $e0 -> $e1"
ping_ok $E $IE 5 $IK && ping_ok $K $IK 5 $IE && pass "rekey-traffic-after" || fail rekey-traffic-after ""

# --- SIGHUP: a full resync, with the kernel's database as the truth: an SA
#     and a policy added with `espx state|policy add` (the kernel has
#     neither) are removed, a kernel policy deleted from espx alone is back,
#     the kernel's SAs stay as they were (counters, numbers) ---
ex() { ip netns exec $E "$ESPX" "$@" >>"$TMP/static.out" 2>&1; }
ex state add src $WE dst 10.0.0.5 proto esp spi 0x5aa reqid 55 mode tunnel aead "$AEAD" 0x$(hexkey 20) 128 &&
	ex policy add src $NE dst 172.30.0.0/16 dir out action block &&
	ex policy del src $NK dst $NE dir in &&
	spis_has 0x5aa && pol_is $NE 172.30.0.0/16 out block 0 && ! pol_is $NK $NE in allow 0 &&
	pass "static-entries-added" || fail static-entries-added "$(cat "$TMP/static.out")"
c0=$(epk 0x201) o0=$(eoseq 0x201)
kill -HUP "$DPID"
resynced() { ! spis_has 0x5aa && ! pol_is $NE 172.30.0.0/16 out block 0 && pol_is $NK $NE in allow 0; }
wait_for 10 resynced && pass "sighup-resync-removes-static-entries" ||
	fail sighup-resync-removes-static-entries "espx SAs '$(spis)'; policies: $(ej policy list | head -c 400)"
c1=$(epk 0x201) o1=$(eoseq 0x201)
spis_eq "0x101 0x201" && ((c1 >= c0 && o1 >= o0)) &&
	pass "sighup-keeps-kernel-sas (0x201: $c0 -> $c1 packets, oseq $o0 -> $o1)" ||
	fail sighup-keeps-kernel-sas "espx SAs '$(spis)'; 0x201: $c0 -> $c1 packets, oseq $o0 -> $o1"
ping_ok $E $IE 3 $IK && ping_ok $K $IK 3 $IE && pass "sighup-traffic-after" || fail sighup-traffic-after ""

# --- expiry by packets: soft 10, hard 20 on E's outbound ---
# saw_hard: the monitor has printed the hard expire (printed after the soft)
saw_hard() { grep -q 'hard 1' "$TMP/monitor"; }
ip -n $E xfrm monitor expire >"$TMP/monitor" 2>&1 &
MON=$!
wait_for 10 xmon_ready $MON || fail expiry-monitor-ready "ip xfrm monitor not listening"
for ns in $K $E; do sa $ns $WE $WK 0x202 2 limit packet-soft 10 limit packet-hard 20; done
wait_for 5 spis_has 0x202
ip netns exec $E ping -c 25 -i 0.02 -W 1 -I $IE $IK >/dev/null 2>&1
wait_for 5 saw_hard
kill $MON 2>/dev/null; wait $MON 2>/dev/null
order=$(awk '/hard 0/{print "soft"} /hard 1/{print "hard"}' "$TMP/monitor" | tr '\n' ' ')
[[ $order == "soft hard " ]] && pass "expiry-soft-then-hard" || fail expiry-soft-then-hard "monitor saw '$order': $(head -c 300 "$TMP/monitor")"
# gone SPI: neither E's kernel nor espx has the SA any more
gone() { [[ -z $(ip -n $E xfrm state list spi "$1") && $(spis) != *"$1"* ]]; }
wait_for 5 gone 0x202 && pass "expiry-hard-removed" ||
	fail expiry-hard-removed "0x202 still there: kernel '$(ip -n $E xfrm state list spi 0x202 | head -n1)', espx '$(spis)'"
ping_ok $E $IE 3 $IK && pass "after-expiry-traffic (0x201)" || fail after-expiry-traffic ""
# by bytes: soft 3000, hard 6000 (XFRM counts the inner packet's bytes)
ip -n $E xfrm monitor expire >"$TMP/monitor" 2>&1 &
MON=$!
wait_for 10 xmon_ready $MON || fail expiry-bytes-monitor-ready "ip xfrm monitor not listening"
for ns in $K $E; do sa $ns $WE $WK 0x203 2 limit byte-soft 3000 limit byte-hard 6000; done
wait_for 5 spis_has 0x203
ip netns exec $E ping -c 30 -s 300 -i 0.02 -W 1 -I $IE $IK >/dev/null 2>&1
wait_for 5 saw_hard
kill $MON 2>/dev/null; wait $MON 2>/dev/null
order=$(awk '/hard 0/{print "soft"} /hard 1/{print "hard"}' "$TMP/monitor" | tr '\n' ' ')
wait_for 5 gone 0x203
[[ $order == "soft hard " ]] && gone 0x203 &&
	pass "expiry-bytes-soft-then-hard-removed" || fail expiry-bytes-soft-then-hard-removed "monitor saw '$order'; espx '$(spis)'"

# --- host-to-host policies (thousands, hashed): the one XFRM would try first wins ---
for ((i = 0; i < 2000; i++)); do
	echo "xfrm policy add src $IE/32 dst 172.17.$((i >> 8)).$((i & 255))/32 dir out tmpl src $WE dst $WK proto esp reqid 2 mode tunnel"
done >"$TMP/hostpols"
npol() { ej policy list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
n0=$(npol)
ip -n $E -b "$TMP/hostpols"
pol_count() { [[ $(npol) == "$1" ]]; }
wait_for 20 pol_count $((n0 + 2000)) && pass "host-policies-mirrored (2000 more)" ||
	fail host-policies-mirrored "espx has $(npol) policies, want $((n0 + 2000))"
ip -n $E xfrm policy update src $NE dst $NK dir out priority 100 tmpl src $WE dst $WK proto esp reqid 2 mode tunnel
ip -n $E xfrm policy add src $IE/32 dst $IK/32 dir out priority 1 action block
wait_for 5 pol_is $IE/32 $IK/32 out block 1 && wait_for 5 pol_is $NE $NK out allow 100
# blocked by the host policy, not lost some other way: espx counted each
# request as policy-block
b=$(edrop out policy-block) b=${b#*=}
ping_ok $E $IE 2 $IK; r=$?
a=$(edrop out policy-block) a=${a#*=}
((r != 0 && a >= b + 2)) && pass "host-policy-outranks-subnet (blocked, policy-block $b -> $a)" ||
	fail host-policy-outranks-subnet "ping rc $r, policy-block $b -> $a: want no reply and 2 blocked"
ip -n $E xfrm policy update src $IE/32 dst $IK/32 dir out priority 200 action block
wait_for 5 pol_is $IE/32 $IK/32 out block 200
ping_ok $E $IE 3 $IK && pass "subnet-policy-outranks-host (priority 100 < 200)" ||
	fail subnet-policy-outranks-host "ping blocked by the priority-200 host policy"
ip -n $E xfrm policy del src $IE/32 dst $IK/32 dir out
sed 's/^xfrm policy add \(.*\) tmpl .*/xfrm policy del \1/' "$TMP/hostpols" >"$TMP/hostdel"
ip -n $E -b "$TMP/hostdel"
wait_for 20 pol_count "$n0" || fail host-policies-removed "espx has $(npol), want $n0"

# --- handover: detach (kernel ESP carries), attach again ---
ping_ok $E $IE 5 $IK
ip netns exec $E "$ESPX" detach we >/dev/null 2>&1 && pass "detach" || fail detach ""
v=$(ip netns exec $E cat /proc/sys/net/ipv4/conf/we/disable_xfrm)
[[ $v == 0 ]] && pass "detach-restores-disable_xfrm" || fail detach-restores-disable_xfrm "$v"
ping_ok $E $IE 5 $IK && pass "kernel-carries-after-detach" || fail kernel-carries-after-detach ""
k=$(koseq 0x201)
# an SA without ESN whose kernel number is within the margin of 2^32: espx
# must not send on it (it takes the last number) and says it needs a rekey
sa $E $WE 10.0.0.6 0x558 9 replay-oseq 0xfffffe00
wait_for 3 spis_has 0x558
ip netns exec $E "$ESPX" attach we >"$TMP/attach.out" 2>&1 && pass "attach-again" ||
	fail attach-again "$(cat "$TMP/attach.out")"
n=$(eoseq 0x558)
((n == 0xffffffff)) && grep -q "too close to the end to take over safely.*rekey" "$TMP/attach.out" &&
	pass "attach-near-2^32-not-sent-on (espx oseq $n)" ||
	fail attach-near-2^32-not-sent-on "espx oseq $n: $(cat "$TMP/attach.out")"
ip -n $E xfrm state del src $WE dst 10.0.0.6 proto esp spi 0x558
# espx continues a margin (1024) above the kernel's last number: packets the
# kernel numbered after espx read its counter cannot collide with espx's
a=$(eoseq 0x201)
((k > 0 && a >= k + 1024 && a < k + 1024 + 64)) && pass "attach-takes-over-with-margin (kernel $k, espx $a)" ||
	fail attach-takes-over-with-margin "kernel $k, espx $a"
b=$(epk 0x201)
ping_ok $E $IE 5 $IK && (($(epk 0x201) > b)) && pass "espx-carries-after-attach" ||
	fail espx-carries-after-attach "espx 0x201 $b -> $(epk 0x201)"

# --- detach from one device while espx still sends on another: the number space is
#     split (espx jumps ahead, the kernel continues below the jump) ---
ip -n $E link add we2 type veth peer name we2p
ip -n $E link set we2 up; ip -n $E link set we2p up
ip netns exec $E "$ESPX" attach we2 >/dev/null 2>&1 || fail attach-second-device ""
b=$(eoseq 0x201)
ip -n $E xfrm monitor expire >"$TMP/monitor-split" 2>&1 &
mon=$!
wait_for 10 xmon_ready $mon || fail split-monitor-ready "ip xfrm monitor not listening"
ip netns exec $E "$ESPX" detach we2 >"$TMP/split.out" 2>&1
a=$(eoseq 0x201) k=$(koseq 0x201)
((a >= b + (1 << 27) && k >= b && k < a)) && pass "partial-detach-splits-numbers (espx $b -> $a, kernel $k)" ||
	fail partial-detach-splits-numbers "espx $b -> $a, kernel $k"
# without ESN the kernel's share ends at espx's jump: the IKE daemon is
# asked to rekey at once (a soft expire, as for a soft limit)
wait_for 5 grep -qs "spi 0x00000201" "$TMP/monitor-split"
kill $mon 2>/dev/null; wait $mon 2>/dev/null
grep -A10 "spi 0x00000201" "$TMP/monitor-split" | grep -q "hard 0" &&
	grep -q "no ESN and now two senders" "$TMP/split.out" &&
	pass "partial-detach-asks-rekey (soft expire for 0x201)" ||
	fail partial-detach-asks-rekey "monitor: $(head -c 300 "$TMP/monitor-split"); detach said: $(head -c 300 "$TMP/split.out")"
ping_ok $E $IE 3 $IK && pass "traffic-after-split" || fail traffic-after-split ""
ip -n $E link del we2

# --- detach and attach under a steady flow (100 pps each way): the guard
#     drops protected traffic while espx and the kernel hand over, so the
#     capture of the whole run (checked at the end) shows no plaintext and
#     no (SPI, seq) twice ---
ip netns exec $E ping -q -i 0.01 -w 20 -I $IE $IK >/dev/null 2>&1 &
f1=$!
ip netns exec $K ping -q -i 0.01 -w 20 -I $IK $IE >/dev/null 2>&1 &
f2=$!
# until the flows run: espx has carried some of E's
b=$(epk 0x201)
flowing() { (($(epk 0x201) >= b + 10)); }
wait_for 10 flowing
cyc=0
for i in 1 2 3; do
	ip netns exec $E "$ESPX" detach we >/dev/null 2>&1 && sleep 0.3 &&
		ip netns exec $E "$ESPX" attach we >/dev/null 2>&1 && sleep 0.3 && cyc=$((cyc + 1))
done
kill -INT $f1 $f2 2>/dev/null; wait $f1 $f2 2>/dev/null
g=$(ej stats | $PY -c 'import json,sys; print(json.load(sys.stdin)["drops"]["out"]["transition-guard"]["packets"])')
((cyc == 3)) && pass "transitions-under-flow ($cyc detach/attach cycles, $g packets held back by the guard)" ||
	fail transitions-under-flow "$cyc of 3 cycles completed"
ping_ok $E $IE 3 $IK && pass "traffic-after-transitions" || fail traffic-after-transitions ""

# --- restart: kill -9, traffic on, restart keeps counters and numbers ---
# an overlapping bypass (allow, no template), newer than the protect policy
# NE -> NK and of its priority (100): XFRM tries the older one first, and so
# must espx, from events now and from the dump (newest first) after the restart
ip -n $E xfrm policy add src $NE dst 192.168.1.0/25 dir out priority 100 action allow
wait_for 5 pol_is $NE 192.168.1.0/25 out allow 100
sa $E $WE 10.0.0.7 0x555 9
wait_for 3 spis_has 0x555
b=$(epk 0x201)
ip netns exec $E ping -c 60 -i 0.05 -W 2 -I $IE $IK >"$TMP/ping-restart" 2>&1 &
PP=$!
flowing() { (($(epk 0x201) >= b + 3)); }
wait_for 10 flowing
dstate() { ej status | $PY -c 'import json,sys; d=json.load(sys.stdin)["daemon"]; print(d["state"], d["pid"], d["pid_alive"])'; }
[[ $(dstate) == "running $DPID True" ]] && pass "status-running-before-kill ($(dstate))" ||
	fail status-running-before-kill "$(dstate)"
old=$DPID
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
# the gap is visible: stale at once (the pid is gone), and says what it means
st=$(ip netns exec $E "$ESPX" status 2>&1)
[[ $(dstate) == "stale $old False" ]] && grep -q "^daemon: stale: no daemon has run for .*not mirrored; restart it" <<<"$st" &&
	pass "status-stale-after-kill-9" || fail status-stale-after-kill-9 "$(dstate): $st"
# while no daemon runs: one SA goes, another comes
ip -n $E xfrm state del src $WE dst 10.0.0.7 proto esp spi 0x555
sa $E $WE 10.0.0.7 0x556 9
start_daemon && pass "restart (ready)" || fail restart "$(tail -n 3 "$TMP/daemon.log")"
[[ $(dstate) == "running $DPID True" ]] && pass "status-running-after-restart" ||
	fail status-running-after-restart "$(dstate)"
wait $PP
loss=$(grep -o '[0-9.]*% packet loss' "$TMP/ping-restart")
[[ $loss == "0% packet loss" ]] && pass "no-loss-across-kill-9-and-restart (60 pings)" ||
	fail no-loss-across-kill-9-and-restart "$loss"
got=$(spis)
[[ $got == *0x556* && $got != *0x555* ]] && pass "restart-resync (stale removed, missing added)" ||
	fail restart-resync "espx has '$got'"
a=$(epk 0x201)
((a >= b + 60)) && pass "restart-keeps-counters ($b -> $a)" || fail restart-keeps-counters "$b -> $a"
ping_ok $E $IE 5 $IK && pass "traffic-after-restart" || fail traffic-after-restart ""
# (the capture of E's output runs with -U: readable while it is written)
wire_count() { tcpdump -r "$TMP/wire.pcap" -nn "$1" 2>/dev/null | wc -l; }
e0=$(wire_count "esp and src host $WE") p0=$(wire_count "icmp and src host $IE")
ping_ok $E $IE 5 $IK; r=$?
# the capture writes with -U: until the 5 requests' ESP is in the file
esp_in_pcap() { (($(wire_count "esp and src host $WE") - e0 >= 5)); }
wait_for 5 esp_in_pcap
esp=$(($(wire_count "esp and src host $WE") - e0)) plain=$(($(wire_count "icmp and src host $IE") - p0))
((r == 0 && esp >= 5 && plain == 0)) &&
	pass "restart-keeps-xfrm-order (older protect before newer bypass: $esp ESP, 0 plaintext)" ||
	fail restart-keeps-xfrm-order "ping rc $r, $esp ESP, $plain plaintext: $(ej policy list | head -c 600)"
ip -n $E xfrm policy del src $NE dst 192.168.1.0/25 dir out

# --- the command lock held by another process: the daemon waits without
#     spinning, says so, and applies what changed once it is free ---
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# The daemon's own CPU over 4 s with the lock free, as the baseline: its interval
# work costs more or less with the emulator's speed (59 ticks were seen once with
# the lock held and no spin). A spin on the lock would add most of a CPU (~400).
t0=$(ticks "$DPID")
sleep 4
base=$(($(ticks "$DPID") - t0))
# held until $TMP/hold goes: however slow the start, 4 s of it are measured
: >"$TMP/hold"
flock -o /run/espx/lock bash -c 'while [[ -e $0 ]]; do sleep 0.1; done' "$TMP/hold" &
FL=$!
lock_held() { ! flock -n -o /run/espx/lock true; }
wait_for 10 lock_held || fail lock-holder "flock did not take /run/espx/lock"
t0=$(ticks "$DPID")
sa $E $WE 10.0.0.8 0x557 9
sleep 4
t1=$(ticks "$DPID")
early=$(spis)
rm -f "$TMP/hold"
wait $FL
if wait_for 10 spis_has 0x557 && [[ $early != *0x557* ]] && ((t1 - t0 < base + 100)) &&
	grep -q "held back until the lock is free" "$TMP/daemon.log"; then
	pass "lock-held-daemon-waits-no-spin ($((t1 - t0)) ticks of CPU in 4 s, $base with the lock free)"
else
	fail lock-held-daemon-waits-no-spin "CPU ticks $((t1 - t0)) (lock free: $base, allowed: base + 100); while held: '$early'; after: '$(spis)'; $(grep -c 'held back' "$TMP/daemon.log") warnings"
fi
ip -n $E xfrm state del src $WE dst 10.0.0.8 proto esp spi 0x557

# --- stop: SIGTERM hands back, restores, kernel continues ---
kill -TERM "$DPID"; wait "$DPID"; rc=$?; DPID=
((rc == 0)) && pass "sigterm-exit-0" || fail sigterm-exit-0 "rc $rc: $(tail -n 3 "$TMP/daemon.log")"
[[ $(dstate) == "none 0 False" ]] && pass "status-none-after-sigterm" || fail status-none-after-sigterm "$(dstate)"
v=$(ip netns exec $E cat /proc/sys/net/ipv4/conf/we/disable_policy)
[[ $v == 0 ]] && pass "sigterm-restores-disable_policy" || fail sigterm-restores-disable_policy "$v"
ping_ok $E $IE 5 $IK && pass "kernel-carries-after-stop" || fail kernel-carries-after-stop ""

kill -INT "$CAP"; wait "$CAP" 2>/dev/null; CAP=
# every ESP packet E sent, per SPI: no sequence number twice (the GCM nonce)
dups=$(tcpdump -r "$TMP/wire.pcap" -nn 'esp and src host '$WE 2>/dev/null |
	sed -n 's/.*ESP(spi=\(0x[0-9a-f]*\),seq=\(0x[0-9a-f]*\)).*/\1 \2/p' | sort | uniq -d | head -n 5)
total=$(tcpdump -r "$TMP/wire.pcap" -nn 'esp and src host '$WE 2>/dev/null | wc -l)
plain=$(tcpdump -r "$TMP/wire.pcap" -nn "ip and not esp and net 192.168.0.0/16" 2>/dev/null | wc -l)
[[ -z $dups && $total -gt 50 ]] && pass "no-sequence-number-reused ($total ESP packets from E)" ||
	fail no-sequence-number-reused "$total packets; repeated: $dups"
((plain == 0)) && pass "wire-no-plaintext" || fail wire-no-plaintext "$plain plaintext packets: $(tcpdump -r "$TMP/wire.pcap" -nn "ip and not esp and net 192.168.0.0/16" 2>/dev/null | head -n 3)"

# --- a daemon with a small event queue, for the overflow below ---
start_daemon --rcvbuf 65536 || fail "start-small-rcvbuf" "$(tail -n 3 "$TMP/daemon.log")"
# --- events lost (the socket's queue overflows while the daemon is stopped): ENOBUFS
#     must lead to a full resync, not a stale map ---
for ((i = 0; i < 2000; i++)); do
	echo "xfrm state add src $WE dst 10.2.$((i >> 8)).$((i & 255)) proto esp spi $((0x40000 + i)) mode tunnel aead rfc4106(gcm(aes)) 0x${KEYS[0x100]} 128"
done >"$TMP/burst"
kill -STOP "$DPID"
ip -n $E -b "$TMP/burst"
kill -CONT "$DPID"
n_sas() { [[ $(ip netns exec $E "$ESPX" -j status | $PY -c 'import json,sys; print(json.load(sys.stdin)["sa_count"])') == "$1" ]]; }
want=$(ip -n $E xfrm state list | grep -c 'rfc4106(gcm(aes))')	# the SAs espx carries
if wait_for 60 n_sas "$want" && grep -q ENOBUFS "$TMP/daemon.log"; then
	pass "enobufs-full-resync ($want SAs)"
else
	fail enobufs-full-resync "espx $(ip netns exec $E "$ESPX" -j status | $PY -c 'import json,sys; print(json.load(sys.stdin)["sa_count"])') SAs, kernel $want; $(grep -c ENOBUFS "$TMP/daemon.log") ENOBUFS lines"
fi
# --- flush while the daemon runs ---
ip -n $E xfrm policy flush; ip -n $E xfrm state flush
wait_for 3 spis_eq ""
n=$(ej policy list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))')
spis_eq "" && [[ $n == 0 ]] &&
	pass "flush-mirrored" || fail flush-mirrored "espx has SAs '$(spis)', $n policies"

# --- one SA for IPv4 and IPv6 outbound: the kernel sends IPv6 itself, so espx
#     must not send IPv4 on the same SA (two senders, one nonce space) ---
sa $E $WE $WK 0x777 77
ip -n $E xfrm policy add src 192.168.2.0/24 dst 192.168.9.0/24 dir out \
	tmpl src $WE dst $WK proto esp reqid 77 mode tunnel
ip -n $E xfrm policy add src fd02::/64 dst fd09::/64 dir out \
	tmpl src $WE dst $WK proto esp reqid 77 mode tunnel
mixed() { ej policy list | $PY -c 'import json,sys; print([p["action"] for p in json.load(sys.stdin) if p.get("dst","").startswith("192.168.9.")])'; }
mixed_blocked() { [[ $(mixed) == "['block']" ]]; }
wait_for 3 mixed_blocked && grep -q "also carries IPv6" "$TMP/daemon.log" &&
	pass "mixed-family-sa-v4-blocked" || fail mixed-family-sa-v4-blocked "actions $(mixed)"
# IPv6 leaves the SA: IPv4 is unblocked, and espx continues a margin above
# whatever the kernel sent on the SA meanwhile (taken over as at attach)
# (the kernel's number is read before: afterwards the daemon's per-interval
# push raises the kernel's copy to espx's)
k=$(koseq 0x777)
ip -n $E xfrm policy del src fd02::/64 dst fd09::/64 dir out
mixed_open() { [[ $(mixed) == "['allow']" ]]; }
wait_for 5 mixed_open
a=$(eoseq 0x777)
mixed_open && ((a >= k + 1024)) && pass "mixed-family-unblock-continues-above-kernel (kernel $k, espx $a)" ||
	fail mixed-family-unblock-continues-above-kernel "actions $(mixed), kernel $k, espx $a"
ip -n $E xfrm policy flush
ip -n $E xfrm state del src $WE dst $WK proto esp spi 0x777

# --- more outbound policies than espx holds: fail closed ---
# 16 classes of prefix lengths (dst /16 .. /31) fill what is hashed per
# family; 300 policies of a 17th class then go to the 256 slots
for ((i = 0; i < 16; i++)); do
	echo "xfrm policy add src 192.168.2.1/32 dst 172.17.0.0/$((16 + i)) proto udp dir out tmpl src $WE dst $WK proto esp reqid 2 mode tunnel"
done >"$TMP/pols"
for ((i = 0; i < 300; i++)); do
	echo "xfrm policy add src 192.168.2.1/32 dst 172.16.$((i >> 8)).$((i & 255))/32 proto udp dir out tmpl src $WE dst $WK proto esp reqid 2 mode tunnel"
done >>"$TMP/pols"
ip -n $E -b "$TMP/pols"
wait_for 10 pol_count 272
last=$(ej policy list | $PY -c 'import json,sys; p=[x for x in json.load(sys.stdin) if x["dir"]=="out"]; print(len(p), p[-1]["action"], p[-1]["priority"])')
[[ $last == "272 block 4294967295" ]] && pass "policy-overflow-fails-closed" ||
	fail policy-overflow-fails-closed "out policies, last action, priority: '$last'; $(grep -m1 'more than' "$TMP/daemon.log")"
exit $_failed
