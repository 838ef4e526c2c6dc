#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Issue 16: a restart storm and SA churn under `espx daemon`, run inside the 6.12 VM
# (kernel ESP). Topology of tests/vm/ke.sh: namespace K is a peer with kernel XFRM only;
# E has the same SAs and policies in its kernel, mirrored by `espx daemon dev we`. One
# steady flow (ping E -> K, 50 per second) runs through both phases:
#   storm   the daemon killed (kill -9) and started again RESTARTS times, a random 0 to
#           300 ms apart (the datapath runs on without it); after each start E's and
#           K's `ip -s xfrm state` packet counts are sampled
#   churn   CYCLES SA add / replace (`ip xfrm state update`) / delete cycles in E's
#           kernel through `ip -batch`, as an IKE daemon's rekeys would drive them, the
#           daemon mirroring each; memory measured after a warm-up tenth and at the end
# The SAs have ESN and start 512 below 2^32: the flow crosses it during the storm.
# Checks: every start became ready; the flow delivered after each phase; the counters
# never went down (E's are espx's, pushed by the daemon); a capture of E's output holds
# no (SPI, sequence number) twice, no (SPI, IV) twice and no plaintext between the LANs
# (tests/vm/esp_wire.py); K counts no replay and no integrity failure; after the churn
# the daemon holds the two SAs it started with, and the kernel's unreclaimable slab, the
# ecb(aes) contexts (/proc/crypto refcnt) and espx's map entries are where they were.
# With ESPX_VM_KEEP set (scripts/vmtest.sh sets it), the XFRM netlink datagrams E's
# kernel sent during the run (events and dump answers, tests/vm/nl_capture.py) are kept
# there for the fuzz corpus (make fuzz-capture).
# Env: ESPX_VM_STORM_RESTARTS (default 10), ESPX_VM_STORM_CYCLES (default 1000).
# Usage: tests/vm/storm.sh   (PASS/FAIL lines, vm-storm-*; exit 1 on failure)
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/vm/lib.sh
. tests/vm/ke.sh
T_PREFIX=vm-storm-
ESPX=${ESPX_VM_ESPX:-$PWD/build/espx}
WIRE="$PY $PWD/tests/vm/esp_wire.py"
K=stK E=stE
KE_WINDOW=128
IVL=200	# daemon interval, ms
RATE=0.02
MIN=10	# replies a phase must deliver after it
RESTARTS=${ESPX_VM_STORM_RESTARTS:-10}
CYCLES=${ESPX_VM_STORM_CYCLES:-1000}
SLAB_TOL_KB=1024
TMP=$(mktemp -d /tmp/espx-storm.XXXXXX)
CAP= FLOW= NLCAP=

modprobe -a esp4 xfrm_user veth 2>/dev/null
[[ -x $ESPX ]] || { fail setup "no $ESPX (run make first)"; exit 1; }
[[ $RESTARTS =~ ^[1-9][0-9]*$ && $CYCLES =~ ^[1-9][0-9]*$ ]] ||
	{ fail setup "ESPX_VM_STORM_RESTARTS and _CYCLES want positive numbers"; exit 1; }

cleanup() {
	stop "$FLOW" INT; stop "$CAP" INT; stop "$NLCAP" INT; stop "$DPID" KILL
	ke_cleanup
}
trap 'cleanup; rm -rf "$TMP"' EXIT

now() { date +%s.%N; }
replies_since() { awk -v t="$1" -F'[][]' '/bytes from/ && $2 > t {n++} END {print n + 0}' "$TMP/flow"; }
delivered() { (($(replies_since "$1") >= MIN)); }
flow_ok() {	# flow_ok PHASE T: MIN replies after time T
	echo "$2 $1" >>"$TMP/phases"
	if wait_for 60 delivered "$2"; then pass "$1-flow ($(replies_since "$2") replies since)"
	else fail "$1-flow" "$(replies_since "$2") replies in 60 s after it"; fi
}
# one line per sample: E's kernel out, E's kernel in, K's kernel in (packets)
sample() { echo "$(kpk $E 0x200) $(kpk $E 0x100) $(kpk $K 0x200)" >>"$TMP/counts"; }
# ecb(aes) contexts: the refcnt of every ecb(aes) driver, summed
ecb_refs() {
	awk '/^name/ {n = $3} /^refcnt/ && n == "ecb(aes)" {s += $3} END {print s + 0}' /proc/crypto
}
slab_kb() { awk '/^SUnreclaim:/ {print $2}' /proc/meminfo; }
# espx's entries in E: SAs it holds (all, its own and the kernel's)
entries() { ej state list | $PY -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# --- topology, SAs across 2^32, capture, daemon, flow ---
ke_topology || { fail setup "ip netns add"; exit 1; }
ESN="flag esn replay-seq 0xfffffe00 replay-oseq 0xfffffe00"
for ns in $K $E; do
	# shellcheck disable=SC2086
	sa $ns $WK $WE 0x100 1 $ESN && sa $ns $WE $WK 0x200 2 $ESN || { fail setup "ip xfrm state add (ESN)"; exit 1; }
done
pols $K k 1 2 && pols $E e 2 1 || { fail setup "ip xfrm policy add"; exit 1; }
if [[ -n ${ESPX_VM_KEEP:-} ]]; then
	mkdir -p "$ESPX_VM_KEEP/xfrm_nl"
	ip netns exec $E $PY tests/vm/nl_capture.py "$ESPX_VM_KEEP/xfrm_nl" >"$TMP/nlcap.log" 2>&1 &
	NLCAP=$!
	wait_for 10 grep -qs listening "$TMP/nlcap.log" || { fail setup "nl_capture: $(cat "$TMP/nlcap.log")"; exit 1; }
fi
ip netns exec $E tcpdump -i we -Q out -s 96 -U -nn -w "$TMP/we.pcap" ip 2>"$TMP/tcpdump.err" &
CAP=$!
wait_for 10 grep -qs listening "$TMP/tcpdump.err" || { fail setup "tcpdump did not start: $(cat "$TMP/tcpdump.err")"; exit 1; }
start_daemon || { fail setup "the daemon did not start: $(tail -n 5 "$TMP/daemon.log")"; exit 1; }
[[ $(spis) == "0x100 0x200" ]] || { fail setup "espx has '$(spis)', want '0x100 0x200'"; exit 1; }
stdbuf -oL ip netns exec $E ping -D -i $RATE -W 1 -I $IE $IK >"$TMP/flow" 2>&1 &
FLOW=$!
flow_ok baseline "$(now)"
sample

# --- the storm: kill -9, a random pause, start, sample ---
t0=$SECONDS ready=0
for ((i = 1; i <= RESTARTS; i++)); do
	kill -9 "$DPID"; wait "$DPID" 2>/dev/null; DPID=
	sleep "0.$(printf '%03d' $((RANDOM % 300)))"
	if start_daemon; then ready=$((ready + 1)); else
		fail "restart-$i" "not ready in 30 s: $(tail -n 3 "$TMP/daemon.log" | tr '\n' ' ')"
		break
	fi
	sample
done
((ready == RESTARTS)) && pass "restarts ($ready kill -9 and starts in $((SECONDS - t0)) s)" ||
	fail restarts "$ready of $RESTARTS starts became ready"
flow_ok storm "$(now)"
sleep 0.5	# two daemon intervals: its last counts pushed
sample
if awk 'NR > 1 { for (c = 1; c <= 3; c++) if ($c + 0 < p[c]) { print "sample " NR ": column " c " went " p[c] " -> " $c; bad = 1 } }
	{ for (c = 1; c <= 3; c++) p[c] = $c + 0 } END { exit bad }' "$TMP/counts" >"$TMP/mono"; then
	pass "counters-monotonic ($(wc -l <"$TMP/counts") samples; E out $(head -n1 "$TMP/counts" | cut -d' ' -f1) -> $(tail -n1 "$TMP/counts" | cut -d' ' -f1))"
else
	fail counters-monotonic "$(head -n 3 "$TMP/mono" | tr '\n' ';')"
fi
a=$(tail -n1 "$TMP/counts" | cut -d' ' -f1) b=$(head -n1 "$TMP/counts" | cut -d' ' -f1)
((a > b)) && pass "counters-pushed (E's kernel shows espx's $b -> $a)" || fail counters-pushed "$b -> $a"

# --- the churn: add, replace, delete, through ip -batch in E's kernel ---
# churn_batch FROM TO: the ip -batch lines of cycles FROM..TO-1, on a pool of 256 SPIs
# (0x10000 + cycle % 256), as the host's churn test: every deleted SA identity keeps its
# number's mark (espx_sa_hwm) until a resync finds it gone, so fresh SPIs would measure
# the marks, not what a cycle leaves
churn_batch() {
	local c spi k=${KEYS[0x200]}
	for ((c = $1; c < $2; c++)); do
		spi=$(printf '0x%x' $((0x10000 + c % 256)))
		echo "xfrm state add src $WE dst $WK proto esp spi $spi reqid 9 mode tunnel replay-window 32 aead $AEAD 0x$k 128"
		echo "xfrm state update src $WE dst $WK proto esp spi $spi reqid 9 mode tunnel replay-window 32 aead $AEAD 0x$k 128 limit packet-hard 1000000"
		echo "xfrm state delete src $WE dst $WK proto esp spi $spi"
	done
}
settled() { spis_eq "0x100 0x200"; }
warm=$((CYCLES / 10)) ; ((warm < 1)) && warm=1
churn_batch 0 $warm >"$TMP/warm.batch"
# and one SA that expires by time in the warm-up (soft after 1 s, hard after 2 s):
# the daemon sees the kernel's EXPIRE events and the SA go
echo "xfrm state add src $WE dst $WK proto esp spi 0xfff00 reqid 9 mode tunnel replay-window 32 aead $AEAD 0x${KEYS[0x200]} 128 limit time-soft 1 limit time-hard 2" >>"$TMP/warm.batch"
churn_batch $warm "$CYCLES" >"$TMP/churn.batch"
ip -n $E -batch "$TMP/warm.batch" >"$TMP/batch.out" 2>&1 || fail churn-warm "$(tail -n 2 "$TMP/batch.out")"
wait_for 60 settled || fail churn-warm-settled "espx has $(spis)"
sleep 1
e0=$(entries) r0=$(ecb_refs) s0=$(slab_kb)
t0=$SECONDS
ip -n $E -batch "$TMP/churn.batch" >"$TMP/batch.out" 2>&1 && pass "churn ($((CYCLES - warm)) cycles after $warm warm-up, $(((CYCLES - warm) * 3)) ip xfrm changes in $((SECONDS - t0)) s)" ||
	fail churn "$(tail -n 2 "$TMP/batch.out")"
if wait_for 300 settled; then pass "churn-settled (espx holds $(spis) again, $((SECONDS - t0)) s)"
else fail churn-settled "espx has $(spis | wc -w) SAs 300 s after the churn"; fi
flow_ok churn "$(now)"
kill -0 "$DPID" 2>/dev/null && pass churn-daemon-alive || fail churn-daemon-alive "$(tail -n 3 "$TMP/daemon.log")"
# memory: contexts and entries exactly back; slab within 1 MB (it settles: retried 10 s)
for _ in $(seq 10); do
	e1=$(entries) r1=$(ecb_refs) s1=$(slab_kb)
	((e1 == e0 && r1 == r0 && s1 - s0 < SLAB_TOL_KB)) && break
	sleep 1
done
((e1 == e0)) && pass "churn-entries-flat ($e0 -> $e1)" || fail churn-entries-flat "$e0 -> $e1"
((r1 == r0)) && pass "churn-no-context-left (ecb(aes) refcnt $r0 -> $r1)" || fail churn-no-context-left "ecb(aes) refcnt $r0 -> $r1"
((s1 - s0 < SLAB_TOL_KB)) && pass "churn-slab-flat (SUnreclaim $s0 -> $s1 kB)" ||
	fail churn-slab-flat "SUnreclaim $s0 -> $s1 kB: more than $SLAB_TOL_KB kB grown"

# --- the end: the capture and the peer ---
stop "$FLOW" INT; FLOW=
sleep 0.5
stop "$CAP" INT; CAP=
if [[ -n $NLCAP ]]; then
	ip netns exec $E $PY tests/vm/nl_capture.py --dump "$ESPX_VM_KEEP/xfrm_nl" >"$TMP/nldump.log" 2>&1 ||
		fail nl-dump "$(tail -n 2 "$TMP/nldump.log")"
	stop "$NLCAP" INT; NLCAP=
	grep -q '^events: ' "$TMP/nlcap.log" && pass "nl-captured ($(grep -h '^events: \|^dumps: ' "$TMP/nlcap.log" "$TMP/nldump.log" | tr '\n' ' '))" ||
		fail nl-captured "$(tail -n 3 "$TMP/nlcap.log")"
fi
w=$($WIRE wire $WE "$TMP/we.pcap" --phases "$TMP/phases" 2>&1)
read -r _ n _ ne _ nk _ dseq _ div _ np _ nodd <<<"$(head -n 1 <<<"$w")"
((n > 500 && ne > 0 && nodd == 0)) && pass "wire-parsed ($n ESP from E: $ne espx, $nk kernel)" ||
	fail wire-parsed "$(tr '\n' ';' <<<"$w")"
((dseq == 0)) && pass "no-spi-seq-twice" || fail no-spi-seq-twice "$(tr '\n' ';' <<<"$w")"
((div == 0)) && pass "no-spi-iv-twice" || fail no-spi-iv-twice "$(tr '\n' ';' <<<"$w")"
((np == 0)) && pass "no-plaintext" || fail no-plaintext "$(tr '\n' ';' <<<"$w")"
ks=$(ip -n $K -s xfrm state list | $WIRE stats 2>&1)
if [[ $? != 0 ]] || ! grep -q replay-window <<<"$ks"; then
	fail peer-stats-parsed "$(tr '\n' ';' <<<"$ks")"
elif awk '$2 == "replay-window" && ($3 + $5 + $7) > 0 {bad = 1} END {exit !bad}' <<<"$ks"; then
	fail peer-no-replay-no-failed "$(tr '\n' ';' <<<"$ks")"
else
	pass "peer-no-replay-no-failed"
fi
xs=$(ip netns exec $K cat /proc/net/xfrm_stat | awk '$1 ~ /XfrmInStateSeqError|XfrmInStateProtoError|XfrmInStateInvalid/ && $2 > 0')
[[ -z $xs ]] && pass "peer-xfrm_stat-clean" || fail peer-xfrm_stat-clean "$xs"
echo "# flow: $(grep -c 'bytes from' "$TMP/flow") replies in all"	# a figure, not a check
exit $_failed
