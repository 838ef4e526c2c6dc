#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# On-demand tunnels beside espx, run inside the 6.12 VM (scripts/vmtest.sh): strongSwan's
# `start_action = trap` installs policies without SAs and waits for the kernel's XFRM
# ACQUIRE, which the kernel cannot raise on a device with disable_xfrm (espx attached).
# espx's datapath reports the drops (policy-without-sa) and `espx daemon` raises the
# ACQUIRE in the kernel's place; the daemon also follows POLEXPIRE.
# Two namespaces, trL (10.0.0.1, espx: `espx daemon dev trl`, charon with trap) and trR
# (10.0.0.2, kernel ESP, charon as responder), tunnel mode 192.168.1.0/24 <-> 192.168.2.0/24
# (addresses on lo), one charon each with its own config, VICI socket and /run
# (tests/vm/swan.sh, shared with tests/vm/strongswan.sh).
# Checks:
#   trap       traps installed and mirrored with no SA; a ping from L brings the tunnel up
#              (`ip xfrm monitor acquire` sees the ACQUIRE with the packet's selector and
#              the trap's reqid, SAs appear), pings then pass through espx (its SA
#              counters move), and nothing but ESP, IKE and ARP left L meanwhile (tcpdump)
#   ratelimit  a kernel policy whose reqid no trap has (charon ignores its ACQUIREs): a
#              3 s flood of up to 300 pings is dropped (policy-without-sa) and raises one
#              ACQUIRE a second at most (`ip xfrm monitor`), each one the daemon sent
#   polexpire  a policy with `limit time-soft 3 limit time-hard 6`: mirrored, then the
#              kernel's hard POLEXPIRE (no DELPOLICY) removes it from espx; the datapath
#              stops dropping its traffic; the daemon logged soft then hard
# Usage: tests/vm/strongswan_trap.sh. Prints PASS/FAIL/SKIP lines; exits 1 if anything failed.
# Env: ESPX_BIN (an espx binary other than build/espx).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/vm/lib.sh
. tests/vm/swan.sh
ESPX=${ESPX_BIN:-$PWD/build/espx}
L=trL R=trR
NRATE=192.168.4.0/24 NEXP=192.168.5.0/24
SWAN_CONN=tr SWAN_PSK=espx-trap-test-psk
SWAN_LOG="knl = 2
cfg = 2"

modprobe -a esp4 xfrm_user veth 2>/dev/null
[[ -x $ESPX ]] || { fail vm-strongswan-trap "no $ESPX (run make first)"; exit 1; }
if ! swan_have; then
	skip strongswan-trap "strongSwan not installed ($CHARON, swanctl)"
	exit 0
fi
T=$(mktemp -d /tmp/swtrap.XXXXXX)
BG=() DAEMON=""

cleanup() {
	local p
	charon_stop
	[[ -n $DAEMON ]] && { stop_or_kill "$DAEMON"; DAEMON=""; }
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	BG=()
	timeout 10 ip netns exec $L "$ESPX" unload >/dev/null 2>&1
	ip netns del $L 2>/dev/null
	ip netns del $R 2>/dev/null
}
trap 'cleanup; rm -rf "$T"' EXIT

# nsas NS: ESP SAs in NS's XFRM database
nsas() { ip -n "$1" xfrm state | grep -c '^src'; }
# out_spi: L's outbound SA (to 10.0.0.2)
out_spi() { ip -n $L xfrm state | awk -v d=$WR '$1 == "src" && $4 == d {getline; print $4; exit}'; }
# mirrored DST: espx's out policy for selector destination DST (its index), if any
mirrored() {
	ip netns exec $L "$ESPX" -j policy list 2>/dev/null | $PY -c '
import json, sys
print(next((str(p["index"]) for p in json.load(sys.stdin) if p["dir"] == "out" and p["dst"] == sys.argv[1]), ""))' "$1"
}
# wait_mirrored DST: up to 5 s for it
wait_mirrored() {
	local i
	for _ in $(seq 50); do i=$(mirrored "$1"); [[ -n $i ]] && { echo "$i"; return 0; }; sleep 0.1; done
	return 1
}
# nosa_drops: L's outbound policy-without-sa drops
nosa_drops() {
	ip netns exec $L "$ESPX" -j stats 2>/dev/null |
		$PY -c 'import json, sys; print(json.load(sys.stdin)["drops"]["out"].get("policy-without-sa", {}).get("packets", 0))'
}
# acquires PATTERN: ACQUIREs the kernel multicast (ip xfrm monitor acquire) whose text
# matches PATTERN (one record: "acquire proto esp" up to the next record)
acquires() {
	awk -v pat="$1" '/^acquire/ { if (rec != "" && rec ~ pat) n++; rec = $0; next }
		{ rec = rec " " $0 } END { if (rec != "" && rec ~ pat) n++; print n + 0 }' "$T/acq.mon"
}

# ---- setup ----
swan_topology trl trr || { fail strongswan-trap-setup "ip netns add"; exit 1; }
for n in $NRATE $NEXP; do ip -n $L route add $n via $WR src $IL; done
swan_conf $L aes128gcm16 "start_action = trap"
swan_conf $R aes128gcm16 "start_action = none"

ip netns exec $L "$ESPX" -v daemon --interval 250 dev trl >"$T/daemon.log" 2>&1 &
DAEMON=$!
if daemon_ready "$T/daemon.log" $DAEMON; then pass strongswan-trap-daemon-ready
else fail strongswan-trap-daemon-ready "no 'ready' line within 30 s"; excerpt 20 "$T/daemon.log"; exit 1; fi
for s in $R $L; do
	if ! charon_start $s; then
		fail "strongswan-trap-charon-$s" "charon or swanctl --load-all failed"
		excerpt 10 "$T/$s/charon.out"; excerpt 10 "$T/$s/load.out"; excerpt 20 "$T/$s/charon.log"
		exit 1
	fi
done

# ---- trap: the ACQUIRE reaches charon, the tunnel comes up ----
reqid=$(ip -n $L xfrm policy list dir out | awk '/reqid/ {for (i = 1; i < NF; i++) if ($i == "reqid") print $(i + 1); exit}')
idx=$(wait_mirrored $NR)
if [[ -n $reqid && -n $idx && $(nsas $L) == 0 ]]; then
	pass "strongswan-trap-installed-no-sa (reqid $reqid, espx index $idx)"
else
	fail strongswan-trap-installed-no-sa "reqid '$reqid', espx index '$idx', $(nsas $L) SAs in L"
	excerpt 20 "$T/$L/charon.log"; exit 1
fi
ip -n $L xfrm monitor acquire >"$T/acq.mon" 2>&1 &
BG+=($!)
ip netns exec $L tcpdump -i trl -Q out -U -nn -w "$T/wire.pcap" 2>"$T/tcpdump.err" &
CAP=$!
BG+=($CAP)
for _ in $(seq 50); do grep -qs listening "$T/tcpdump.err" && break; sleep 0.1; done
sleep 0.5
t0=$SECONDS
ip netns exec $L ping -q -c 60 -i 0.25 -W 1 -I $IL $IR >"$T/ping1.out" 2>&1 &
PING=$!
for _ in $(seq 300); do [[ $(nsas $L) -ge 2 ]] && break; sleep 0.1; done
up=$((SECONDS - t0))
if [[ $(nsas $L) -ge 2 && $(nsas $R) -ge 2 ]]; then
	pass "strongswan-trap-tunnel-up-on-traffic (SAs after ${up}s)"
else
	fail strongswan-trap-tunnel-up-on-traffic "L has $(nsas $L), R $(nsas $R) SAs after 30 s of traffic"
	excerpt 20 "$T/daemon.log"; excerpt 25 "$T/$L/charon.log"
fi
kill $PING 2>/dev/null; wait $PING 2>/dev/null
sleep 0.5
n=$(acquires "dst $IR/32")
if ((n >= 1)); then
	pass "strongswan-trap-acquire-raised ($n ACQUIRE(s) for $IL -> $IR)"
else
	fail strongswan-trap-acquire-raised "ip xfrm monitor saw no ACQUIRE for $IR: $(head -c 400 "$T/acq.mon")"
	excerpt 10 "$T/daemon.log"
fi
grep -q "acquire $IL -> $IR: policy index $idx, reqid $reqid" "$T/daemon.log" &&
	pass strongswan-trap-daemon-asked ||
	{ fail strongswan-trap-daemon-asked "no such line in the daemon log"; excerpt 10 "$T/daemon.log"; }
# (charon: "creating acquire job for policy 192.168.1.1/32[icmp/8] === 192.168.2.1/32[icmp] with reqid {1}")
grep -qE "creating acquire job for policy $IL/32.*=== $IR/32.*reqid \{$reqid\}" "$T/$L/charon.log" &&
	pass strongswan-trap-charon-took-acquire ||
	{ fail strongswan-trap-charon-took-acquire "charon's log says nothing of it"; excerpt 15 "$T/$L/charon.log"; }

out=$(ip netns exec $L ping -q -c 20 -i 0.05 -W 1 -I $IL $IR 2>&1)
rx=$(grep -o '[0-9]* received' <<<"$out" | cut -d' ' -f1)
[[ ${rx:-0} == 20 ]] && pass "strongswan-trap-ping-through-espx (20/20)" ||
	fail strongswan-trap-ping-through-espx "${rx:-0}/20: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
spo=$(out_spi)
e=$(espx_packets $L "$spo")
[[ -n $e && $e -ge 20 ]] && pass "strongswan-trap-espx-carried ($e packets on $spo)" ||
	fail strongswan-trap-espx-carried "espx counts '$e' packets on out SA '$spo'"
# until the capture holds the pings' ESP, at most 10 s: SIGINT ends tcpdump without
# reading what is still in its ring (CI once saw 19 of the 20 there)
for _ in $(seq 100); do
	(($(tcpdump -r "$T/wire.pcap" -nn esp 2>/dev/null | wc -l) >= 20)) && break
	sleep 0.1
done
kill -INT $CAP; wait $CAP 2>/dev/null
flt='not arp and not esp and not (udp port 500 or udp port 4500)'
plain=$(tcpdump -r "$T/wire.pcap" -nn "$flt" 2>/dev/null | wc -l)
nesp=$(tcpdump -r "$T/wire.pcap" -nn esp 2>/dev/null | wc -l)
nike=$(tcpdump -r "$T/wire.pcap" -nn 'udp port 500' 2>/dev/null | wc -l)
if ((plain == 0 && nesp >= 20 && nike > 0)); then
	pass "strongswan-trap-no-plaintext ($nesp ESP, $nike IKE packets)"
else
	fail strongswan-trap-no-plaintext "$plain other packets ($nesp ESP, $nike IKE): $(tcpdump -r "$T/wire.pcap" -nn "$flt" 2>/dev/null | head -n 3 | tr '\n' ' ')"
fi

# ---- ratelimit: a flood raises one ACQUIRE a second at most ----
ip -n $L xfrm policy add src $NL dst $NRATE dir out tmpl src $WL dst $WR proto esp reqid 99 mode tunnel
ridx=$(wait_mirrored $NRATE) || fail strongswan-trap-ratelimit-mirrored "the policy to $NRATE never reached espx"
d0=$(nosa_drops)
t0=$(date +%s.%N)
ip netns exec $L ping -q -c 300 -i 0.01 -w 3 -I $IL 192.168.4.1 >/dev/null 2>&1
t1=$(date +%s.%N)
sleep 1
d1=$(nosa_drops)
n=$(acquires "dst 192.168.4.1/32")
secs=$($PY -c "import math, sys; print(math.ceil(float(sys.argv[2]) - float(sys.argv[1])))" "$t0" "$t1")
if ((d1 - d0 >= 100 && n >= 1 && n <= secs + 1)); then
	pass "strongswan-trap-ratelimit ($((d1 - d0)) packets dropped in ${secs}s, $n ACQUIREs)"
else
	fail strongswan-trap-ratelimit "$((d1 - d0)) dropped as policy-without-sa, $n ACQUIREs in ${secs}s (want >= 100, 1..$((secs + 1)))"
fi
# each multicast is one the daemon sent, for this policy and reqid
m=$(grep -c "acquire $IL -> 192.168.4.1: policy index ${ridx:-none}, reqid 99:" "$T/daemon.log")
if ((m == n)); then pass "strongswan-trap-daemon-acquires ($m)"
else fail strongswan-trap-daemon-acquires "the daemon logged $m ACQUIREs for policy index ${ridx:-?}, the kernel multicast $n"; fi

# ---- polexpire: the kernel deletes a policy at its hard time limit ----
# limits long enough that mirroring and the first pings (seconds each under TCG on a
# loaded host) happen well before the hard expiry
ip -n $L xfrm policy add src $NL dst $NEXP dir out limit time-soft 10 limit time-hard 20 \
	tmpl src $WL dst $WR proto esp reqid 98 mode tunnel
t_exp=$SECONDS
eidx=$(wait_mirrored $NEXP)
d0=$(nosa_drops)
ip netns exec $L ping -q -c 3 -i 0.2 -W 1 -I $IL 192.168.5.1 >/dev/null 2>&1
d1=$(nosa_drops)
# (ping sends again after ENOBUFS: more drops than pings)
if [[ -n $eidx ]] && ((d1 - d0 >= 3)); then pass "strongswan-trap-polexpire-mirrored (index $eidx, $((d1 - d0)) dropped)"
else fail strongswan-trap-polexpire-mirrored "espx index '$eidx', $((d1 - d0)) drops as policy-without-sa for 3 pings, $((SECONDS - t_exp)) s after the policy was added"; fi
gone=""
for _ in $(seq 400); do
	[[ -z $(mirrored $NEXP) ]] && { gone=1; break; }
	sleep 0.1
done
kgone=$(ip -n $L xfrm policy list dir out | grep -c "dst $NEXP")
if [[ -n $gone && $kgone == 0 ]]; then pass strongswan-trap-polexpire-mirror-dropped
else fail strongswan-trap-polexpire-mirror-dropped "$((SECONDS - t_exp)) s after it was added (hard limit 20 s): espx still has it: ${gone:-yes}, kernel has $kgone"; fi
d0=$(nosa_drops)
ip netns exec $L ping -q -c 3 -i 0.2 -W 1 -I $IL 192.168.5.1 >/dev/null 2>&1
d1=$(nosa_drops)
((d1 == d0)) && pass strongswan-trap-polexpire-datapath-released ||
	fail strongswan-trap-polexpire-datapath-released "$((d1 - d0)) more policy-without-sa drops after the expiry"
order=$(grep -oE "policy index $eidx dir out: (soft|hard) expire" "$T/daemon.log" | awk '{print $6}' | xargs)
[[ $order == "soft hard" ]] && pass strongswan-trap-polexpire-soft-then-hard ||
	{ fail strongswan-trap-polexpire-soft-then-hard "daemon logged '$order'"; excerpt 10 "$T/daemon.log"; }

# the daemon ends cleanly
kill -TERM $DAEMON
for _ in $(seq 100); do kill -0 $DAEMON 2>/dev/null || break; sleep 0.1; done
if kill -0 $DAEMON 2>/dev/null; then fail strongswan-trap-daemon-sigterm "still running 10 s after SIGTERM"
else wait $DAEMON; rc=$?; DAEMON=""; ((rc == 0)) && pass strongswan-trap-daemon-sigterm ||
	fail strongswan-trap-daemon-sigterm "exit $rc"; fi
((_failed)) && { note "daemon log:"; excerpt 30 "$T/daemon.log"; }
exit $_failed
