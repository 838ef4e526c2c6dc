#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# strongSwan beside espx in topologies tests/vm/strongswan.sh does not cover, run inside
# the 6.12 VM (scripts/vmtest.sh): IPv6, and NAT traversal. Two charons (IKEv2, PSK,
# aes128gcm16, tunnel mode between two LANs on lo; tests/vm/swan.sh), L initiates, R runs
# `espx daemon dev swr` (started before charon) and rekeys its CHILD_SAs by packet count
# while ping and TCP transfers (sha256 check, tests/vm/tcpxfer.py) run.
#   espx-v6    swan_topology6: fd00::1 -- fd00::2 outside, fd01::/64 <-> fd02::/64 inside.
#              Linux has no IPv6 disable_xfrm, so R's outbound IPv6 is encrypted by the
#              kernel (docs/strongswan.md, "IPv6"); espx decrypts R's inbound in XDP.
#              R's inside address fd02::1 is on lo: the kernel checks a decrypted IPv6
#              packet for local delivery against its in policies (disable_policy on swr
#              does not spare it), and espx's packet has no secpath; espx's mark and
#              its kernel policy (ESPX_RX_MARK) let it through.
#   espx-v6-host the same with fd02::1 on swr, the device espx set disable_policy on.
#   espx-natt  swan_topology_nat: L (10.0.1.1) behind N, a namespace that masquerades
#              (nftables) what leaves it towards R (10.0.0.2); charon detects the NAT and
#              moves to UDP 4500, the SAs have `encap espinudp`, and espx carries both
#              directions on R as ESP in UDP.
# Checks: tunnel up (and for NAT-T: both of R's SAs with encap espinudp 4500, mirrored
# into espx with the same encap, none left to the kernel), ping with few losses, the
# transfers' sha256 both ways, at least one rekey, espx's mirror followed it (within 2 s,
# tests/vm/swan_watch.py), the wire (tcpdump between L and R, for NAT-T between N and R)
# has only ESP (NAT-T: UDP 4500 with a non-ESP marker, no bare ESP) and IKE, espx counted
# R's packets (on a settled pair, swan_settle) and pushed the counts to the kernel, no
# outbound packet found its policy without an SA during a rekey, SIGTERM ends the daemon cleanly and
# the kernel carries on with the same SAs.
# Usage: tests/vm/strongswan_more.sh [SCENARIO...]   (default: all three).
# Prints PASS/FAIL/SKIP lines; exits 1 if anything failed.
# Env: ESPX_VM_XFER_BYTES (TCP transfer size, default 131072), ESPX_SWAN_PINGS (default
# 300), ESPX_BIN (an espx binary other than build/espx).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/vm/lib.sh
. tests/vm/swan.sh
ESPX=${ESPX_BIN:-$PWD/build/espx}	# ESPX_BIN: another build of espx to try
WATCH=$PWD/tests/vm/swan_watch.py
SIZE=${ESPX_VM_XFER_BYTES:-131072}
PINGS=${ESPX_SWAN_PINGS:-300}
REKEY_PKTS=200 LIFE_PKTS=3000	# R's soft/hard packet limits; L never rekeys by packets
L=swL R=swR N=swN N_DEV_L=swnl N_DEV_R=swnr
SWAN_CONN=sw SWAN_PSK=espx-strongswan-test-psk
SWAN_LOG="ike = 1
chd = 2
knl = 2"
SWAN_CHARON="delete_rekeyed_delay = 1"
SWAN_CONN_EXTRA="rekey_time = 0"

modprobe -a esp4 esp6 xfrm_user veth nf_tables nft_nat nft_masq 2>/dev/null
[[ -x $ESPX ]] || { fail vm-strongswan-more "no $ESPX (run make first)"; exit 1; }
if ! swan_have; then
	skip strongswan-more "strongSwan not installed ($CHARON, swanctl)"
	exit 0
fi
T=$(mktemp -d /tmp/swanmore.XXXXXX)
DATA=$T/data
head -c "$SIZE" /dev/urandom >"$DATA"
WANT="$SIZE $(sha256sum "$DATA" | cut -d' ' -f1)"
BG=() DAEMON="" WATCHER=""

cleanup() {
	local p
	charon_stop
	if [[ -n $DAEMON ]]; then
		stop_or_kill "$DAEMON" ||
			fail strongswan-more-daemon-exit "still running 5 s after SIGTERM, killed"
		DAEMON=""
	fi
	for p in "${BG[@]}" $WATCHER; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	BG=() WATCHER=""
	timeout 10 ip netns exec $R "$ESPX" unload >/dev/null 2>&1
	for p in $L $N $R; do ip netns del "$p" 2>/dev/null; done
}
trap 'cleanup; rm -rf "$T"' EXIT

# R's current SAs: inbound (from L as R sees it) and outbound
in_spi() { ip -n $R xfrm state | awk -v d=$WR '$1 == "src" && $4 == d {getline; print $4; exit}'; }
out_spi() { ip -n $R xfrm state | awk -v d=$RPEER '$1 == "src" && $4 == d {getline; print $4; exit}'; }

# daemon_start NAME: espx daemon in R, wait for 'ready'; then the mirror watcher
daemon_start() {
	local n=$1
	ip netns exec $R "$ESPX" daemon --interval 250 dev swr >"$T/daemon.log" 2>&1 &
	DAEMON=$!
	if daemon_ready "$T/daemon.log" $DAEMON; then pass "$n-daemon-ready"
	else
		fail "$n-daemon-ready" "no 'ready' line within 30 s"; excerpt 20 "$T/daemon.log"
		return 1
	fi
	$PY "$WATCH" $R "$ESPX" >"$T/watch.json" 2>"$T/watch.err" &
	WATCHER=$!
}

# encap_checks NAME: R's SA pair uses ESP in UDP 4500, and espx holds it so
encap_checks() {
	local n=$1 st e
	st=$(ip -n $R xfrm state)
	if [[ $(grep -c 'encap type espinudp sport 4500 dport 4500' <<<"$st") == 2 ]]; then
		pass "$n-sas-espinudp-4500"
	else fail "$n-sas-espinudp-4500" "R's SAs: $(grep -E 'spi|encap' <<<"$st" | tr -s '\n\t ' ' ' | cut -c1-300)"; fi
	# what espx mirrored: the same two SPIs, each with encap 4500/4500, none left to the kernel
	for _ in $(seq 20); do
		e=$(ip netns exec $R "$ESPX" -j state list 2>/dev/null | $PY -c '
import json, sys
j = json.load(sys.stdin)
print(" ".join(sorted("%#x:%s:%s" % (s["spi"], s.get("encap", {}).get("sport"), s.get("encap", {}).get("dport"))
                      + (":kernel=" + s["kernel"] if "kernel" in s else "") for s in j)))')
		[[ $e == *:4500:4500*:4500:4500* && $e != *kernel=* ]] && break
		sleep 0.25
	done
	if [[ $(wc -w <<<"$e") == 2 && $e != *kernel=* && $(grep -o ':4500:4500' <<<"$e" | wc -l) == 2 ]]; then
		pass "$n-espx-mirrored-encap ($e)"
	else fail "$n-espx-mirrored-encap" "espx state list: '$e', want R's two SAs with encap sport 4500 dport 4500, carried by espx"
		excerpt 20 "$T/daemon.log"
	fi
}

# wire_checks NAME FAMILY: what crossed to and from R (pcaps in $T/wire-*.pcap)
wire_checks() {
	local n=$1 fam=$2 f plain=0 nesp=0 nike=0 bare=0 sample="" esp ike other
	if [[ $fam == natt ]]; then
		# ESP in UDP: port 4500 and a non-zero first word (the non-ESP marker is zero:
		# IKE); NAT keepalives (one 0xff byte) are neither. Bare ESP must not appear.
		esp='udp port 4500 and udp[4:2] > 12 and udp[8:4] != 0'
		ike='udp port 500 or (udp port 4500 and udp[4:2] > 12 and udp[8:4] == 0)'
		other='not arp and not udp port 500 and not udp port 4500'
	else
		esp='esp'
		ike='udp port 500 or udp port 4500'
		# neighbour discovery (NS/NA), and whatever is link-local or multicast (MLD, RS)
		other='not esp and not (udp port 500 or udp port 4500) and not (ip6 and (dst net ff00::/8 or src net fe80::/10)) and not (icmp6 and (ip6[40] == 135 or ip6[40] == 136))'
	fi
	for f in "$T"/wire-*.pcap; do
		plain=$((plain + $(tcpdump -r "$f" -nn "$other" 2>/dev/null | wc -l)))
		nesp=$((nesp + $(tcpdump -r "$f" -nn "$esp" 2>/dev/null | wc -l)))
		nike=$((nike + $(tcpdump -r "$f" -nn "$ike" 2>/dev/null | wc -l)))
		[[ $fam == natt ]] && bare=$((bare + $(tcpdump -r "$f" -nn 'ip proto 50' 2>/dev/null | wc -l)))
		sample+="$(basename "$f"): $(tcpdump -r "$f" -nn "$other" 2>/dev/null | head -n 2 | tr '\n' ' ') "
	done
	if ((plain == 0 && bare == 0 && nesp > 2 * PINGS && nike > 0)); then
		pass "$n-wire-only-esp-and-ike ($nesp ESP$([[ $fam == natt ]] && echo ' in UDP 4500'), $nike IKE packets)"
	else fail "$n-wire-only-esp-and-ike" "$plain other packets, $bare bare ESP, $nesp ESP, $nike IKE: $sample"; fi
}

# espx_checks NAME FAMILY: after the traffic, the daemon still running
espx_checks() {
	local n=$1 fam=$2 w si so k e
	si=$(in_spi) so=$(out_spi)
	for _ in 1 2 3 4 5 6 7 8; do
		k=$(kcount $R $RPEER $WR "$si") e=$(espx_packets $R "$si")
		[[ -n $k && $k == "$e" ]] && break
		sleep 0.3
	done
	if [[ -n $e && $e -gt 0 ]]; then pass "$n-espx-counted-in ($e packets on $si)"
	else fail "$n-espx-counted-in" "espx counts '$e' packets on $si"; fi
	if [[ -n $k && $k -gt 0 && $k == "$e" ]]; then pass "$n-kernel-counts-pushed-in ($k packets)"
	else fail "$n-kernel-counts-pushed-in" "ip -s xfrm state: '$k' packets on $si, espx: '$e'"; fi
	if [[ $fam == v6 ]]; then
		# outbound IPv6 is the kernel's (no IPv6 disable_xfrm): said, not checked
		note "$n: R's outbound SA $so: kernel counts $(kcount $R $WR $RPEER "$so"), espx $(espx_packets $R "$so") (outbound IPv6 is encrypted by the kernel)"
	else
		for _ in 1 2 3 4 5 6 7 8; do
			k=$(kcount $R $WR $RPEER "$so") e=$(espx_packets $R "$so")
			[[ -n $k && $k == "$e" ]] && break
			sleep 0.3
		done
		if [[ -n $e && $e -gt 0 && $k == "$e" ]]; then pass "$n-espx-counted-out-pushed ($e packets on $so)"
		else fail "$n-espx-counted-out-pushed" "ip -s xfrm state: '$k' packets on $so, espx: '$e'"; fi
	fi
	# a rekey adds the new outbound SA and deletes the old one: never a moment without one
	local d
	d=$(espx_drops $R out policy-without-sa)
	if [[ $d == 0 ]]; then pass "$n-no-gap-at-rekey (no outbound packet found its policy without an SA)"
	else fail "$n-no-gap-at-rekey" "espx on R dropped $d outbound packets as policy-without-sa"; fi
	kill "$WATCHER" 2>/dev/null; wait "$WATCHER" 2>/dev/null
	WATCHER=""
	w=$(<"$T/watch.json")
	note "watch: $w"
	# one rekey deletes two SAs
	if $PY - "$w" <<-'EOF'; then pass "$n-espx-mirror-followed-rekeys"
	import json, sys
	w = json.loads(sys.argv[1])
	ok = (w["kernel_deleted"] >= 2 and not w["never_mirrored"] and not w["left_in_espx"]
	      and w["max_add_lag"] <= 2.0 and w["max_del_lag"] <= 2.0
	      and w["final_kernel"] == w["final_espx"])
	sys.exit(0 if ok else 1)
	EOF
	else fail "$n-espx-mirror-followed-rekeys" "want every SA mirrored and every old one gone from espx within 2 s: $w"
		excerpt 20 "$T/daemon.log"; excerpt 5 "$T/watch.err"
	fi
	# SIGTERM: the daemon detaches, the kernel carries the same SAs on
	local rc before after
	before=$(spis $R | xargs)
	kill -TERM $DAEMON
	for _ in $(seq 100); do kill -0 $DAEMON 2>/dev/null || break; sleep 0.1; done
	if kill -0 $DAEMON 2>/dev/null; then fail "$n-daemon-sigterm" "still running 10 s after SIGTERM"
	else
		wait $DAEMON; rc=$?
		DAEMON=""
		((rc == 0)) && pass "$n-daemon-sigterm" || fail "$n-daemon-sigterm" "exit $rc"
		after=$(spis $R | xargs)
		ping_check "$n-kernel-takes-over-ping" $L $IL $IR 10 0
		[[ $after == "$before" ]] && pass "$n-sas-stay-after-daemon" ||
			fail "$n-sas-stay-after-daemon" "before SIGTERM: $before, after: $after"
	fi
}

# drops_note NAME: espx's drop counters on R and the kernel's XFRM errors there (non-zero)
drops_note() {
	note "$1: espx drops on R: $(ip netns exec $R "$ESPX" -j stats 2>/dev/null | $PY -c '
import json, sys
d = json.load(sys.stdin).get("drops", {})
print(" ".join("%s/%s=%s" % (dr, r, v.get("packets")) for dr in d for r, v in d[dr].items() if v.get("packets")) or "none")')"
	note "$1: R's /proc/net/xfrm_stat: $(ip netns exec $R awk '$2 != 0' /proc/net/xfrm_stat | xargs)"
	note "$1: espx's SAs and policies on R (keys are not kept):"
	ip netns exec $R "$ESPX" state list 2>&1 | sed 's/^/#   /' | head -n 20
	ip netns exec $R "$ESPX" policy list 2>&1 | sed 's/^/#   /' | head -n 20
	# what R's stack received after XDP (a decrypted packet is plain here)
	[[ -f $T/rin.pcap ]] && note "$1: received on swr after XDP: $(tcpdump -r "$T/rin.pcap" -nn esp 2>/dev/null | wc -l) ESP, $(tcpdump -r "$T/rin.pcap" -nn 'icmp6 and ip6[40] == 128' 2>/dev/null | wc -l) echo requests; first: $(tcpdump -r "$T/rin.pcap" -nn 'not udp' 2>/dev/null | head -n 3 | tr '\n' ' ')"
}

# scenario NAME FAMILY(v6|natt)
scenario() {
	local n=$1 fam=$2 t0=$SECONDS f0=$_nfailed s f out cap=() lost=0 rekeys nspi softs
	out=$("$ESPX" daemon --help 2>&1) ||
		{ fail "$n" "'espx daemon --help' exited $?: $(head -n 1 <<<"$out")"; return; }
	rm -rf "${T:?}/$L" "${T:?}/$R" "$T"/wire-*.pcap "$T/rin.pcap"
	if [[ $fam == v6 ]]; then
		SWAN_R_PEER=
		swan_topology6 swl swr || { fail "$n-setup" "ip netns add"; cleanup; return; }
	else
		# scripts/vm/deps.sh installs nftables before any VM boots: missing is a fault
		if ! command -v nft >/dev/null; then
			fail "$n-setup" "no nft (nftables): scripts/vm/deps.sh should have installed it"; return
		fi
		# R answers whoever comes: behind a NAT, L's address is not its own
		SWAN_R_PEER=%any
		swan_topology_nat swl swr || { fail "$n-setup" "namespaces or the nftables NAT (nft -f)"; cleanup; return; }
	fi
	swan_conf $L aes128gcm16 "rekey_packets = 0"
	swan_conf $R aes128gcm16 "rekey_packets = $REKEY_PKTS
life_packets = $LIFE_PKTS
rand_packets = 0"
	daemon_start "$n" || { cleanup; return; }
	for s in $L $R; do
		if ! charon_start $s; then
			fail "$n-charon-$s" "charon or swanctl --load-all failed"
			excerpt 10 "$T/$s/charon.out"; excerpt 10 "$T/$s/load.out"; excerpt 20 "$T/$s/charon.log"
			cleanup; return
		fi
	done
	ip -n $L xfrm monitor SA expire >"$T/mon-$L" 2>&1 &
	BG+=($!)
	ip -n $R xfrm monitor SA expire >"$T/mon-$R" 2>&1 &
	BG+=($!)
	# the wire: what L and R transmit (v6; a receive tap would also see the decrypted
	# packets), or both directions between N and R (NAT-T: N has no IPsec)
	if [[ $fam == v6 ]]; then
		ip netns exec $L tcpdump -i swl -Q out -U -nn -w "$T/wire-L.pcap" 2>"$T/tcpdump-L.err" &
		cap+=($!) BG+=($!)
		ip netns exec $R tcpdump -i swr -Q out -U -nn -w "$T/wire-R.pcap" 2>"$T/tcpdump-R.err" &
		cap+=($!) BG+=($!)
		# for drops_note only: what reaches R's stack after XDP
		ip netns exec $R tcpdump -i swr -Q in -U -nn -w "$T/rin.pcap" 2>"$T/tcpdump-Rin.err" &
		cap+=($!) BG+=($!)
	else
		ip netns exec $N tcpdump -i $N_DEV_R -U -nn -w "$T/wire-N.pcap" 2>"$T/tcpdump-N.err" &
		cap+=($!) BG+=($!)
	fi
	for f in "$T"/tcpdump-*.err; do
		for _ in $(seq 50); do grep -qs listening "$f" && break; sleep 0.1; done
	done

	if out=$(swctl $L --initiate --child net --timeout 60 2>&1); then pass "$n-ike-up"
	else
		fail "$n-ike-up" "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
		excerpt 25 "$T/$L/charon.log"; excerpt 25 "$T/$R/charon.log"; excerpt 20 "$T/daemon.log"
		cleanup; return
	fi
	[[ $fam == natt ]] && encap_checks "$n"
	# IPv6: espx's kernel policy that lets the IPv6 it decrypts pass the kernel's inbound
	# check (ESPX_RX_MARK), beside charon's policies
	if [[ $fam == v6 ]]; then
		local rp
		rp=$(ip -n $R xfrm policy list dir in | grep -A2 'src ::/0 dst ::/0' | tr '\n\t' '  ')
		[[ $rp == *"priority 0 "*"mark 0x65737078/0xffffffff"* ]] && pass "$n-espx-kernel-policy" ||
			fail "$n-espx-kernel-policy" "R's inbound policies: $(ip -n $R xfrm policy list dir in | tr '\n\t' '  ' | cut -c1-300)"
	fi

	ping_check "$n-ping-L-to-R" $L $IL $IR "$PINGS" 10
	lost=$((lost + LOST))
	xfer "$n-tcp-L-to-R" $R $IR $L $IL 7001 60
	xfer "$n-tcp-R-to-L" $L $IL $R $IR 7002 60
	ping_check "$n-ping-R-to-L" $R $IR $IL $((PINGS / 3)) 10
	lost=$((lost + LOST))
	# a current SA pair that carried traffic, for the counter checks (swan.sh)
	LOST=0
	swan_settle "$n" $L $IL $IR
	lost=$((lost + LOST))

	for s in "${cap[@]}"; do kill -INT "$s"; wait "$s" 2>/dev/null; done
	for s in "${BG[@]}"; do kill "$s" 2>/dev/null; wait "$s" 2>/dev/null; done
	BG=()
	nspi=$(grep -o 'proto esp spi 0x[0-9a-f]*' "$T/mon-$L" | sort -u | wc -l)
	rekeys=$((nspi / 2 - 1))
	softs=$(grep -c 'hard 0' "$T/mon-$R")
	# (R's soft expiries are the daemon's reports: espx counted the packets)
	if ((rekeys >= 1 && softs >= 1)); then pass "$n-rekeys ($rekeys CHILD_SA rekeys, $softs soft expiries on R)"
	else
		fail "$n-rekeys" "$rekeys CHILD_SA rekeys ($nspi SPIs, $softs soft expiries on R), want >= 1 and >= 1"
		excerpt 15 "$T/$R/charon.log"; excerpt 15 "$T/daemon.log"
	fi
	if ((lost <= 3 * (rekeys + 1))); then pass "$n-loss-per-rekey ($lost lost over $rekeys rekeys)"
	else fail "$n-loss-per-rekey" "$lost pings lost over $rekeys rekeys"; fi
	wire_checks "$n" "$fam"
	# before the daemon goes: where R lost packets, if anything failed so far
	((_nfailed > f0)) && drops_note "$n"
	espx_checks "$n" "$fam"
	((_nfailed > f0)) && { note "daemon log:"; excerpt 30 "$T/daemon.log"; }
	note "$n: $((SECONDS - t0))s"
	cleanup
}

ALL=(espx-v6 espx-v6-host espx-natt)
(($#)) && ALL=("$@")
for s in "${ALL[@]}"; do
	case $s in
	espx-v6) SWAN_R_INNER_DEV=lo scenario "strongswan-$s" v6 ;;
	espx-v6-host) SWAN_R_INNER_DEV=swr scenario "strongswan-$s" v6 ;;
	espx-natt) scenario "strongswan-$s" natt ;;
	*) fail "strongswan-$s" "unknown scenario" ;;
	esac
done
exit $_failed
