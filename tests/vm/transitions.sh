#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Issue 11, "never a nonce twice, never a plaintext gap", run inside the 6.12 VM (kernel
# ESP). Topology of tests/vm/ke.sh: namespace K is a peer with kernel XFRM only; E
# has the same SAs and policies in its kernel (`ip xfrm`, as an IKE daemon installs
# them), mirrored by `espx daemon dev we`. ONE steady flow (ping E -> K, 50 per second:
# requests leave E through espx or E's kernel, replies arrive through K's kernel) runs
# through every transition, one after another:
#   cli-cycle      `espx detach we`, the kernel carries, `espx attach we`
#   sigterm        daemon SIGTERM (hand-back), the kernel carries, daemon restarted
#   del-sighup     `espx state del` of the outbound SA, SIGHUP: reinstalled above it
#   kill9          daemon kill -9 (the datapath runs on), `espx state del` meanwhile,
#                  restart: resync reinstalls
#   unload         `espx unload` under the running daemon, the kernel carries, the
#                  daemon stopped; `espx attach we` refused (espx has no policies: the
#                  flow would leave in plaintext), the daemon started again
#   rekey          new SAs (no ESN) and policy templates, old SAs deleted, as IKE does
#   split          a second device attached and detached (partial detach: espx jumps
#                  ahead, the kernel keeps the numbers below); daemon kill -9 and restart:
#                  the split is remembered (the kernel's number stays below the jump), and
#                  E's kernel sending through the detached device stays below it
#   reattach       the second device attached again
#   final          the second device detached (partial), daemon SIGTERM: the kernel
#                  carries alone
# The first SAs have ESN and start 4096 below 2^32 (the flow crosses it); the rekeyed
# ones have none. Checks: every phase delivered replies after its transition; a capture
# of E's output over the whole run (tests/vm/esp_wire.py) holds no (SPI, sequence
# number) twice (ESN numbers rebuilt in full), no (SPI, IV) twice and no plaintext
# between the LANs; K's `ip -s xfrm state` (each SA before it is deleted, and at the
# end) and K's /proc/net/xfrm_stat count no replay and no integrity failure, and E's
# kernel SAs likewise after each hand-back.
# Usage: tests/vm/transitions.sh   (PASS/FAIL lines, vm-transitions-*; exit 1 on failure)
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/vm/lib.sh
. tests/vm/ke.sh
T_PREFIX=vm-transitions-
ESPX=${ESPX_VM_ESPX:-$PWD/build/espx}	# another build: to see the test fail on it
WIRE="$PY $PWD/tests/vm/esp_wire.py"
K=trK E=trE
KE_WINDOW=128
IVL=200	# daemon interval, ms
RATE=0.02	# the flow: one ping every 20 ms
MIN=10	# replies a phase must deliver after its transition
TMP=$(mktemp -d /tmp/espx-transitions.XXXXXX)
CAP= FLOW=

modprobe -a esp4 xfrm_user veth 2>/dev/null
[[ -x $ESPX ]] || { fail setup "no $ESPX (run make first)"; exit 1; }

cleanup() {
	stop "$FLOW" INT; stop "$CAP" INT; stop "$DPID"
	ke_cleanup
}
trap 'cleanup; rm -rf "$TMP"' EXIT

stop_daemon() {	# SIGTERM, exit status 0
	local rc
	kill -TERM "$DPID"; wait "$DPID"; rc=$?; DPID=
	return $rc
}
attached() { ej status | $PY -c 'import json,sys; print(" ".join(sorted(d["dev"] for d in json.load(sys.stdin)["devices"])))'; }

# --- the flow and its phases: a reply line of `ping -D` carries its time ---
now() { date +%s.%N; }
replies_since() { awk -v t="$1" -F'[][]' '/bytes from/ && $2 > t {n++} END {print n + 0}' "$TMP/flow"; }
delivered() { (($(replies_since "$1") >= MIN)); }
# flow_ok PHASE T: at least MIN replies after time T (the transition's end); T and
# PHASE go to the phase list, which names the phase of what the wire check reports
flow_ok() {
	echo "$2 $1" >>"$TMP/phases"
	if wait_for 30 delivered "$2"; then pass "$1-flow ($(replies_since "$2") replies since)"
	else fail "$1-flow" "$(replies_since "$2") replies in 30 s after the transition"; fi
}
# K's per-SA stats, accumulated: snapshots before each delete and at the end
peer_snap() { ip -n $K -s xfrm state list | $WIRE stats >>"$TMP/k-stats" 2>&1; }
# E's kernel SAs after a hand-back (the kernel now carries: its window came from espx)
e_stats_ok() {	# e_stats_ok PHASE
	local out
	out=$(ip -n $E -s xfrm state list | $WIRE stats 2>&1)
	if [[ $? == 0 ]] && ! awk '$2 == "replay-window" && ($3 + $5 + $7) > 0 {bad = 1} END {exit !bad}' <<<"$out"; then
		pass "$1-e-kernel-no-replay-no-failed"
	else
		fail "$1-e-kernel-no-replay-no-failed" "$(tr '\n' ';' <<<"$out")"
	fi
}

# --- topology and the kernel databases ---
ke_topology || { fail setup "ip netns add"; exit 1; }
# a second device in E for the partial detach; what E sends with mark 99 is routed
# through it, so E's kernel encrypts it once espx has left we2 (the outer header
# still goes out on we: XFRM looks the outer route up without the mark)
ip -n $E link add we2 type veth peer name we2p
ip -n $E link set we2 up; ip -n $E link set we2p up
ip -n $E rule add fwmark 99 table 99 pref 100
ip -n $E route add $NK dev we2 src $IE table 99
ESN="flag esn replay-seq 0xfffff000 replay-oseq 0xfffff000"
for ns in $K $E; do
	# shellcheck disable=SC2086
	sa $ns $WK $WE 0x100 1 $ESN && sa $ns $WE $WK 0x200 2 $ESN || { fail setup "ip xfrm state add (ESN)"; exit 1; }
done
pols $K k 1 2 && pols $E e 2 1 || { fail setup "ip xfrm policy add"; exit 1; }
# E's output, the whole run (K's side would also show what espx decrypted)
ip netns exec $E tcpdump -i we -Q out -s 96 -U -nn -w "$TMP/we.pcap" ip 2>"$TMP/tcpdump.err" &
CAP=$!
wait_for 10 grep -qs listening "$TMP/tcpdump.err" || { fail setup "tcpdump did not start: $(cat "$TMP/tcpdump.err")"; exit 1; }

start_daemon && pass "daemon-starts" || { fail daemon-starts "$(tail -n 5 "$TMP/daemon.log")"; exit 1; }
[[ $(spis) == "0x100 0x200" ]] || { fail setup "espx has '$(spis)', want '0x100 0x200'"; exit 1; }
stdbuf -oL ip netns exec $E ping -D -i $RATE -W 1 -I $IE $IK >"$TMP/flow" 2>&1 &
FLOW=$!
t=$(now)
flow_ok baseline "$t"
b=$(epk 0x200)
((b >= MIN)) && pass "baseline-espx-carries ($b packets)" || fail baseline-espx-carries "espx counted $b on 0x200"

# --- CLI detach, the kernel carries, CLI attach, all while the daemon runs ---
ip netns exec $E "$ESPX" detach we >"$TMP/out" 2>&1 && pass "cli-detach" || fail cli-detach "$(cat "$TMP/out")"
t=$(now)
flow_ok cli-detach-kernel "$t"
e_stats_ok cli-detach
ip netns exec $E "$ESPX" attach we >"$TMP/out" 2>&1 && pass "cli-attach" || fail cli-attach "$(cat "$TMP/out")"
t=$(now) b=$(epk 0x200)
flow_ok cli-attach "$t"
(($(epk 0x200) > b)) && pass "cli-attach-espx-carries" || fail cli-attach-espx-carries "espx 0x200 $b -> $(epk 0x200)"

# --- daemon SIGTERM (hands back), the kernel carries, restart ---
stop_daemon && pass "sigterm-exit-0" || fail sigterm-exit-0 "$(tail -n 3 "$TMP/daemon.log")"
t=$(now)
[[ -z $(attached) ]] || fail sigterm-detached "still attached: $(attached)"
flow_ok sigterm-kernel "$t"
e_stats_ok sigterm
start_daemon && pass "sigterm-restart" || fail sigterm-restart "$(tail -n 5 "$TMP/daemon.log")"
t=$(now) b=$(epk 0x200)
flow_ok sigterm-restart "$t"
(($(epk 0x200) > b)) && pass "sigterm-restart-espx-carries" || fail sigterm-restart-espx-carries "espx 0x200 $b -> $(epk 0x200)"

# --- `espx state del` of the mirrored outbound SA, SIGHUP: resync reinstalls it
#     above the numbers espx used (the policy drops meanwhile: fail closed) ---
o=$(eoseq 0x200)
ip netns exec $E "$ESPX" state del dst $WK proto esp spi 0x200 >"$TMP/out" 2>&1 || fail del-sighup-del "$(cat "$TMP/out")"
kill -HUP "$DPID"
t=$(now)
wait_for 10 spis_has 0x200 && a=$(eoseq 0x200) && ((a >= o + 1024)) &&
	pass "del-sighup-reinstalled (espx had $o, now $a)" || fail del-sighup-reinstalled "espx had $o; now '$(spis)', oseq $(eoseq 0x200 2>/dev/null)"
flow_ok del-sighup "$t"

# --- kill -9: the datapath runs on; an SA deleted from espx meanwhile; restart ---
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
t=$(now)
flow_ok kill9-datapath-runs "$t"
o=$(eoseq 0x200)
ip netns exec $E "$ESPX" state del dst $WK proto esp spi 0x200 >"$TMP/out" 2>&1 || fail kill9-del "$(cat "$TMP/out")"
start_daemon && pass "kill9-restart" || fail kill9-restart "$(tail -n 5 "$TMP/daemon.log")"
t=$(now)
a=$(eoseq 0x200)
((a >= o + 1024)) && pass "kill9-restart-reinstalled (espx had $o, now $a)" || fail kill9-restart-reinstalled "espx had $o, now $a"
flow_ok kill9-restart "$t"

# --- `espx unload` under the running daemon: everything handed back, the pins
#     go; the kernel carries; then the daemon is stopped and espx started again ---
ip netns exec $E "$ESPX" unload >"$TMP/out" 2>&1 && pass "unload" || fail unload "$(cat "$TMP/out")"
t=$(now)
flow_ok unload-kernel "$t"
e_stats_ok unload
stop_daemon || fail unload-daemon-stops "$(tail -n 3 "$TMP/daemon.log")"
# espx has no policies now: an attach would turn the kernel's IPsec off on we with
# nothing in its place (the flow in plaintext until a daemon syncs); refused
ip netns exec $E "$ESPX" attach we >"$TMP/attach.out" 2>&1 && arc=0 || arc=$?
((arc != 0)) && grep -q "outbound IPsec policies that protect or block, and espx none" "$TMP/attach.out" && [[ -z $(attached) ]] &&
	pass "unload-attach-without-policies-refused" ||
	fail unload-attach-without-policies-refused "rc $arc: $(head -c 300 "$TMP/attach.out"); attached: $(attached)"
# the daemon mirrors first, then attaches
start_daemon && pass "unload-restart" || fail unload-restart "$(tail -n 5 "$TMP/daemon.log")"
t=$(now) b=$(epk 0x200)
flow_ok unload-restart "$t"
(($(epk 0x200) > b)) && pass "unload-restart-espx-carries" || fail unload-restart-espx-carries "espx 0x200 $b -> $(epk 0x200)"

# --- rekey as an IKE daemon does it: new SAs (no ESN) under new reqids, inbound
#     first, the policies' templates switched, the old SAs deleted ---
for ns in $K $E; do sa $ns $WK $WE 0x101 3; sa $ns $WE $WK 0x201 4; done
pols $K k 3 4 update && pols $E e 4 3 update || fail rekey-policies "ip xfrm policy update failed"
t=$(now)
wait_for 10 spis_has 0x201 || fail rekey-mirrored "espx has '$(spis)'"
peer_snap
for ns in $K $E; do
	ip -n $ns xfrm state del src $WK dst $WE proto esp spi 0x100
	ip -n $ns xfrm state del src $WE dst $WK proto esp spi 0x200
done
flow_ok rekey "$t"
b=$(epk 0x201)
wait_for 10 test "$(epk 0x201)" -ge $((b + MIN)) && pass "rekey-new-sa-carries ($(epk 0x201) packets on 0x201)" ||
	fail rekey-new-sa-carries "espx 0x201: $(epk 0x201); SAs '$(spis)'"

# --- partial detach: espx on we and we2, we2 detached: the numbers split (no ESN:
#     espx jumps 2^28 ahead, the kernel keeps those below and is asked to rekey) ---
ip netns exec $E "$ESPX" attach we2 >"$TMP/out" 2>&1 || fail split-attach-we2 "$(cat "$TMP/out")"
b=$(eoseq 0x201)
ip netns exec $E "$ESPX" detach we2 >"$TMP/split.out" 2>&1 || fail split-detach-we2 "$(cat "$TMP/split.out")"
t=$(now)
a=$(eoseq 0x201) k=$(koseq 0x201)
((a >= b + (1 << 27) && k < a)) && pass "split (espx $b -> $a, kernel $k)" || fail split "espx $b -> $a, kernel $k"
flow_ok split "$t"
# the daemon dies and comes back: the split must still hold, i.e. the kernel's
# number is not raised into espx's once seen standing still (two intervals)
kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
start_daemon || fail split-restart "$(tail -n 5 "$TMP/daemon.log")"
ticks=0 last=$(kpk $E 0x201)
pushed() { local c; c=$(kpk $E 0x201); [[ $c != "$last" ]] && { last=$c; ticks=$((ticks + 1)); }; ((ticks >= 4)); }
wait_for 20 pushed || fail split-restart-ticks "the daemon pushed counters $ticks times in 20 s"
k=$(koseq 0x201) a=$(eoseq 0x201)
((k < a - (1 << 26))) && pass "split-survives-restart (kernel $k below espx's $a after $ticks pushes)" ||
	fail split-survives-restart "kernel $k, espx $a: the kernel's number was raised into espx's"
# E's kernel sends through the detached device: its numbers, beside espx's on the
# capture. K's window follows espx's higher numbers and would count the kernel's as
# too old (the split keeps nonces apart, not delivery): K drops ESP before XFRM
# for those moments (after its capture point; the flow loses a few replies)
k0=$(koseq 0x201)
tc -n $K qdisc add dev wk clsact &&
	tc -n $K filter add dev wk ingress protocol ip u32 match ip protocol 50 0xff action drop ||
	fail split-probe-setup "tc on K's wk"
ip netns exec $E ping -c 5 -i 0.05 -W 1 -m 99 -I $IE $IK >/dev/null 2>&1
sleep 0.2
tc -n $K qdisc del dev wk clsact
k=$(koseq 0x201) a=$(eoseq 0x201)
((k >= k0 + 5 && k < a - (1 << 26))) && pass "split-kernel-sends-below-jump (kernel $k0 -> $k, espx $a)" ||
	fail split-kernel-sends-below-jump "kernel $k0 -> $k, espx $a"
t=$(now)
flow_ok split-restart "$t"

# --- re-attach the second device ---
ip netns exec $E "$ESPX" attach we2 >"$TMP/out" 2>&1 && pass "reattach-we2" || fail reattach-we2 "$(cat "$TMP/out")"
t=$(now)
flow_ok reattach "$t"

# --- the end: the second device detached (partial: espx keeps the flow on we),
#     then SIGTERM: the last detach hands everything back, the kernel carries ---
ip netns exec $E "$ESPX" detach we2 >"$TMP/out" 2>&1 || fail final-detach-we2 "$(cat "$TMP/out")"
t=$(now)
flow_ok final-partial "$t"
stop_daemon && pass "final-sigterm" || fail final-sigterm "$(tail -n 3 "$TMP/daemon.log")"
[[ -z $(attached) ]] || fail final-detached "still attached: $(attached)"
t=$(now)
flow_ok final-kernel "$t"
e_stats_ok final

stop "$FLOW" INT; FLOW=
sleep 0.5
stop "$CAP" INT; CAP=
peer_snap

# --- the capture: nothing twice, nothing in plaintext ---
w=$($WIRE wire $WE "$TMP/we.pcap" --phases "$TMP/phases" 2>&1)
read -r _ n _ ne _ nk _ dseq _ div _ np _ nodd <<<"$(head -n 1 <<<"$w")"
((n > 1000 && ne > 0 && nk > 0 && nodd == 0)) && pass "wire-parsed ($n ESP from E: $ne espx, $nk kernel)" ||
	fail wire-parsed "$(tr '\n' ';' <<<"$w")"
((dseq == 0)) && pass "no-spi-seq-twice" || fail no-spi-seq-twice "$(tr '\n' ';' <<<"$w")"
((div == 0)) && pass "no-spi-iv-twice" || fail no-spi-iv-twice "$(tr '\n' ';' <<<"$w")"
((np == 0)) && pass "no-plaintext" || fail no-plaintext "$(tr '\n' ';' <<<"$w")"

# --- the peer: no replay, no integrity failure on any SA it had ---
if grep -q "no stats line" "$TMP/k-stats" || ! grep -q replay-window "$TMP/k-stats"; then
	fail peer-stats-parsed "$(tr '\n' ';' <"$TMP/k-stats")"
elif awk '$2 == "replay-window" && ($3 + $5 + $7) > 0 {bad = 1} END {exit !bad}' "$TMP/k-stats"; then
	fail peer-no-replay-no-failed "$(sort -u "$TMP/k-stats" | tr '\n' ';')"
else
	pass "peer-no-replay-no-failed ($(sort -u "$TMP/k-stats" | awk '{print $1}' | tr '\n' ' '))"
fi
xs=$(ip netns exec $K cat /proc/net/xfrm_stat | awk '$1 ~ /XfrmInStateSeqError|XfrmInStateProtoError|XfrmInStateInvalid/ && $2 > 0')
[[ -z $xs ]] && pass "peer-xfrm_stat-clean" || fail peer-xfrm_stat-clean "$xs"
total=$(grep -c 'bytes from' "$TMP/flow")
pass "flow-total ($total replies)"
exit $_failed
