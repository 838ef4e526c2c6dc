#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# strongSwan (IKEv2, PSK) beside the kernel's XFRM and beside espx, run inside the 6.12 VM
# (scripts/vmtest.sh; the host kernel has no ESP). Two namespaces, swL (10.0.0.1) and swR
# (10.0.0.2), a veth between them, tunnel mode between 192.168.1.0/24 and 192.168.2.0/24
# (addresses on lo). One charon per namespace, each with its own strongswan.conf
# (STRONGSWAN_CONF), VICI socket and log in a temp dir, and its own /run (charon's pid file
# is /var/run/charon.pid, fixed at build time) bind-mounted in the mount namespace that
# `ip netns exec` gives it. L initiates; CHILD_SAs are rekeyed by packet count (R's limits
# in the aes128 cases, L's in the aes256 ones) while ping and TCP transfers (sha256 check,
# tests/vm/tcpxfer.py) run between the subnets.
# Modes: kernel = ESP in both kernels (the baseline); espx = R runs `espx daemon dev swr`,
# which mirrors what charon installs into espx's maps and carries R's traffic in XDP/TC
# (espx-aes128: the daemon starts before charon; espx-aes256: once the tunnel is up and
# has carried traffic, so it takes over live SAs and their sequence numbers).
# Checks: tunnel up with the proposed AEAD, ping loss within a few packets per rekey, the
# transfers' sha256, several rekeys (distinct SPIs in `ip xfrm monitor`), only ESP and IKE
# on the wire (tcpdump), no rekeyed SA left in `ip xfrm state`; espx mode also: espx counted
# the packets and pushed the counts to the kernel (ip -s xfrm state), no outbound packet
# found its policy without an SA during a rekey (no gap), the daemon mirrored
# each new SA and dropped each old one within 2 s (tests/vm/swan_watch.py), and after
# SIGTERM the kernel carries on with the same SAs (sequence numbers handed back).
# Usage: tests/vm/strongswan.sh [SCENARIO...]   (default: all; kernel-aes128 kernel-aes256
# espx-aes128 espx-aes256). Prints PASS/FAIL/SKIP lines; exits 1 if anything failed.
# Env: ESPX_VM_XFER_BYTES (TCP transfer size, default 262144), ESPX_SWAN_PINGS (default 900),
# ESPX_BIN (an espx binary other than build/espx).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/vm/lib.sh
. tests/vm/swan.sh
ESPX=${ESPX_BIN:-$PWD/build/espx}	# ESPX_BIN: another build of espx to try
WATCH=$PWD/tests/vm/swan_watch.py
SIZE=${ESPX_VM_XFER_BYTES:-262144}
PINGS=${ESPX_SWAN_PINGS:-900}
REKEY_PKTS=300 LIFE_PKTS=3000	# soft/hard packet limits of the rekeying side
L=swL R=swR
SWAN_CONN=sw SWAN_PSK=espx-strongswan-test-psk
SWAN_LOG="ike = 1
chd = 2
knl = 2"
SWAN_CHARON="delete_rekeyed_delay = 1"
SWAN_CONN_EXTRA="rekey_time = 0"

modprobe -a esp4 esp6 xfrm_user veth 2>/dev/null
[[ -x $ESPX ]] || { fail vm-strongswan "no $ESPX (run make first)"; exit 1; }
if ! swan_have; then
	skip strongswan "strongSwan not installed ($CHARON, swanctl)"
	exit 0
fi
T=$(mktemp -d /tmp/swan.XXXXXX)
DATA=$T/data
head -c "$SIZE" /dev/urandom >"$DATA"
WANT="$SIZE $(sha256sum "$DATA" | cut -d' ' -f1)"
BG=() DAEMON="" WATCHER=""

cleanup() {
	local p
	charon_stop
	# a daemon that does not end on SIGTERM within 5 s gets SIGKILL (and a FAIL line)
	if [[ -n $DAEMON ]]; then
		stop_or_kill "$DAEMON" ||
			fail strongswan-espx-daemon-exit "still running 5 s after SIGTERM, killed"
		DAEMON=""
	fi
	for p in "${BG[@]}" $WATCHER; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	BG=() WATCHER=""
	timeout 10 ip netns exec $R "$ESPX" unload >/dev/null 2>&1
	ip netns del $L 2>/dev/null
	ip netns del $R 2>/dev/null
}
trap 'cleanup; rm -rf "$T"' EXIT

# ecount SPI: packets espx counts for an SA (espx -j stats, in swR)
ecount() { espx_packets $R "$1"; }

# daemon_start NAME: espx daemon in R, wait for 'ready'; then the mirror watcher
daemon_start() {
	local n=$1 dx dp
	ip netns exec $R "$ESPX" daemon --interval 250 dev swr >"$T/daemon.log" 2>&1 &
	DAEMON=$!
	if daemon_ready "$T/daemon.log" $DAEMON; then pass "$n-daemon-ready"
	else
		fail "$n-daemon-ready" "no 'ready' line within 30 s"; excerpt 20 "$T/daemon.log"
		return 1
	fi
	dx=$(ip netns exec $R sysctl -n net.ipv4.conf.swr.disable_xfrm)
	dp=$(ip netns exec $R sysctl -n net.ipv4.conf.swr.disable_policy)
	[[ $dx == 1 && $dp == 1 ]] && pass "$n-daemon-sysctls" ||
		fail "$n-daemon-sysctls" "swr disable_xfrm=$dx disable_policy=$dp, want 1 1"
	$PY "$WATCH" $R "$ESPX" >"$T/watch.json" 2>"$T/watch.err" &
	WATCHER=$!
}

# R's outbound SA (to 10.0.0.1): its SPI, and its sequence number in the kernel / in espx
out_spi() { ip -n $R xfrm state | awk -v d=$WL '$1 == "src" && $4 == d {getline; print $4; exit}'; }
koseq() {
	ip -n $R -s xfrm state get src $WR dst $WL proto esp spi "$1" 2>/dev/null |
		grep -o ' oseq 0x[0-9a-f]*' | head -n 1 | while read -r _ v; do echo $((v)); done
}
eoseq() {
	ip netns exec $R "$ESPX" -j state list 2>/dev/null | $PY -c '
import json, sys
j = json.load(sys.stdin)
print(next((s["oseq"] for s in j if s.get("spi") == int(sys.argv[1], 16) and "oseq" in s), ""))' "$1"
}

# scenario NAME MODE ESP_PROPOSAL KEYBITS REKEYER(L|R) [DAEMON_ORDER(early|late)]
# early: the daemon starts before charon (mirrors SAs as they come); late: once the tunnel
# is up and has carried traffic through the kernel (takes the SAs over, sequence numbers too)
scenario() {
	local n=$1 mode=$2 esp=$3 bits=$4 rekeyer=$5 order=${6:-early} t0=$SECONDS s out f0=$_nfailed
	# the packet limits of the rekeying side; the other never rekeys by packets
	local limits="rekey_packets = $REKEY_PKTS
life_packets = $LIFE_PKTS
rand_packets = 0"
	# espx has the daemon: its --help failing (a crash) fails each espx scenario
	if [[ $mode == espx ]]; then
		out=$("$ESPX" daemon --help 2>&1) ||
			{ fail "$n" "'espx daemon --help' exited $?: $(head -n 1 <<<"$out")"; return; }
	fi
	rm -rf "${T:?}/$L" "${T:?}/$R"
	swan_topology swl swr || { fail "$n-setup" "ip netns add"; return; }
	if [[ $rekeyer == L ]]; then swan_conf $L "$esp" "$limits"; swan_conf $R "$esp" "rekey_packets = 0"
	else swan_conf $L "$esp" "rekey_packets = 0"; swan_conf $R "$esp" "$limits"; fi

	[[ $mode == espx && $order == early ]] && { daemon_start "$n" || { cleanup; return; }; }
	for s in $L $R; do
		if ! charon_start $s; then
			fail "$n-charon-$s" "charon or swanctl --load-all failed"
			excerpt 10 "$T/$s/charon.out"; excerpt 10 "$T/$s/load.out"; excerpt 20 "$T/$s/charon.log"
			cleanup; return
		fi
	done
	# watchers: SA events on both sides, the wire (what each side transmits), espx's mirror
	for s in $L $R; do
		ip -n $s xfrm monitor SA expire >"$T/mon-$s" 2>&1 &
		BG+=($!)
	done
	wire_start swl swr

	if out=$(swctl $L --initiate --child net --timeout 60 2>&1); then pass "$n-ike-up"
	else
		fail "$n-ike-up" "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
		excerpt 25 "$T/$L/charon.log"; excerpt 25 "$T/$R/charon.log"
		wire_stop
		[[ $mode == espx ]] && excerpt 20 "$T/daemon.log"
		cleanup; return
	fi
	# the SA pair charon negotiated: the proposed AEAD, key + 32-bit salt
	local st want_hex=$(((bits + 32) / 4))
	st=$(ip -n $R xfrm state)
	if [[ $(grep -c "aead rfc4106(gcm(aes)) 0x[0-9a-f]\{$want_hex\} 128" <<<"$st") == 2 ]]; then
		pass "$n-sa-aes${bits}gcm16"
	else fail "$n-sa-aes${bits}gcm16" "$(grep -E 'spi|aead' <<<"$st" | tr -s '\n\t ' ' ' | cut -c1-300)"; fi
	if [[ $mode == espx && $order == late ]]; then
		local ks es spo
		ping_check "$n-ping-kernel-before-daemon" $L $IL $IR 20 0
		spo=$(out_spi) ks=$(koseq "$spo")
		daemon_start "$n" || { cleanup; return; }
		es=$(eoseq "$spo")
		if [[ -n $ks && -n $es ]] && ((ks >= 20 && es >= ks)); then
			pass "$n-daemon-took-over-seq ($spo: kernel oseq $ks, espx $es)"
		else fail "$n-daemon-took-over-seq" "$spo: kernel oseq before '$ks', espx oseq after '$es'"; fi
	fi

	# traffic: pings and transfers span several rekeys
	local lost=0
	ping_check "$n-ping-L-to-R" $L $IL $IR "$PINGS" 20
	lost=$((lost + LOST))
	xfer "$n-tcp-L-to-R" $R $IR $L $IL 7001 60
	xfer "$n-tcp-R-to-L" $L $IL $R $IR 7002 60
	ping_check "$n-ping-R-to-L" $R $IR $IL $((PINGS / 3)) 20
	lost=$((lost + LOST))
	# settle: a current SA pair that carried traffic, for the counter checks
	LOST=0
	swan_settle "$n" $L $IL $IR
	lost=$((lost + LOST))

	wire_stop
	for s in "${BG[@]}"; do kill "$s" 2>/dev/null; wait "$s" 2>/dev/null; done
	BG=()
	# rekeys: every CHILD_SA is two SPIs; the first pair is the initial one
	local nspi rekeys softs
	nspi=$(grep -o 'proto esp spi 0x[0-9a-f]*' "$T/mon-$L" | sort -u | wc -l)
	rekeys=$((nspi / 2 - 1))
	softs=$(grep -c 'hard 0' "$T/mon-$([[ $rekeyer == L ]] && echo $L || echo $R)")
	# (the soft expiries on the rekeying side show the limits there started them; on R in
	# espx mode they are the daemon's reports, espx counting the packets)
	if ((rekeys >= 3 && softs >= 1)); then pass "$n-rekeys ($rekeys CHILD_SA rekeys, $softs soft expiries on $rekeyer)"
	else
		fail "$n-rekeys" "$rekeys CHILD_SA rekeys ($nspi SPIs, $softs soft expiries on $rekeyer), want >= 3 and >= 1"
		excerpt 15 "$T/$L/charon.log"; excerpt 15 "$T/$R/charon.log"
	fi
	# losses: a handful per rekey at most (already bounded per ping run above)
	if ((lost <= 3 * (rekeys + 1))); then pass "$n-loss-per-rekey ($lost lost over $rekeys rekeys)"
	else fail "$n-loss-per-rekey" "$lost pings lost over $rekeys rekeys"; fi
	# the wire: ESP, IKE (UDP 500/4500) and ARP only
	wire_check "$n" $((2 * PINGS))
	# no rekeyed SA left: one pair, the same on both sides, the one charon reports
	local sl sr sas
	sl=$(spis $L | xargs) sr=$(spis $R | xargs)
	sas=$(swctl $L --list-sas 2>/dev/null |
		awk '($1 == "in" || $1 == "out") && match($2, /^[0-9a-f]+/) {print "0x" substr($2, 1, RLENGTH)}' |
		sort | xargs)
	if [[ $(wc -w <<<"$sl") == 2 && $sl == "$sr" && $sl == "$sas" ]]; then pass "$n-old-sas-gone (left: $sl)"
	else fail "$n-old-sas-gone" "L: $sl R: $sr charon: $sas"; fi

	if [[ $mode == espx ]]; then
		espx_checks "$n"
	fi
	note "$n: $((SECONDS - t0))s"
	cleanup
}

# espx_checks NAME WATCHER_PID: after the traffic, with the daemon still running
espx_checks() {
	local n=$1 w spi_in spi_out k e
	# the current pair on R: inbound (dst 10.0.0.2) and outbound
	spi_in=$(ip -n $R xfrm state | awk -v d=$WR '$1 == "src" && $4 == d {getline; print $4; exit}')
	spi_out=$(ip -n $R xfrm state | awk -v d=$WL '$1 == "src" && $4 == d {getline; print $4; exit}')
	for _ in 1 2 3 4 5 6 7 8; do
		k=$(kcount $R $WL $WR "$spi_in") e=$(ecount "$spi_in")
		[[ -n $k && $k == "$e" ]] && break
		sleep 0.3
	done
	if [[ -n $e && $e -gt 0 ]]; then pass "$n-espx-counted-in ($e packets on $spi_in)"
	else fail "$n-espx-counted-in" "espx counts '$e' packets on $spi_in"; fi
	if [[ -n $k && $k -gt 0 && $k == "$e" ]]; then pass "$n-kernel-counts-pushed-in ($k packets)"
	else fail "$n-kernel-counts-pushed-in" "ip -s xfrm state: '$k' packets on $spi_in, espx: '$e'"; fi
	for _ in 1 2 3 4 5 6 7 8; do
		k=$(kcount $R $WR $WL "$spi_out") e=$(ecount "$spi_out")
		[[ -n $k && $k == "$e" ]] && break
		sleep 0.3
	done
	if [[ -n $k && $k -gt 0 && $k == "$e" ]]; then pass "$n-kernel-counts-pushed-out ($k packets on $spi_out)"
	else fail "$n-kernel-counts-pushed-out" "ip -s xfrm state: '$k' packets on $spi_out, espx: '$e'"; fi
	# a rekey adds the new outbound SA and deletes the old one: never a moment without one
	local d
	d=$(espx_drops $R out policy-without-sa)
	if [[ $d == 0 ]]; then pass "$n-no-gap-at-rekey (no outbound packet found its policy without an SA)"
	else fail "$n-no-gap-at-rekey" "espx on R dropped $d outbound packets as policy-without-sa"; fi
	# the mirror followed every rekey
	kill "$WATCHER" 2>/dev/null; wait "$WATCHER" 2>/dev/null
	WATCHER=""
	w=$(<"$T/watch.json")
	note "watch: $w"
	if $PY - "$w" <<-'EOF'; then pass "$n-espx-mirror-followed-rekeys"
	import json, sys
	w = json.loads(sys.argv[1])
	ok = (w["kernel_deleted"] >= 4 and not w["never_mirrored"] and not w["left_in_espx"]
	      and w["max_add_lag"] <= 2.0 and w["max_del_lag"] <= 2.0
	      and w["final_kernel"] == w["final_espx"])
	sys.exit(0 if ok else 1)
	EOF
	else fail "$n-espx-mirror-followed-rekeys" "want every SA mirrored and every old one gone from espx within 2 s: $w"
		excerpt 20 "$T/daemon.log"; excerpt 5 "$T/watch.err"
	fi
	# SIGTERM: the daemon hands the SAs back to the kernel (sequence numbers), detaches and
	# restores the sysctls; the kernel then carries the same SAs on
	local rc=0 dx before after spo es ks
	before=$(spis $R | xargs) spo=$(out_spi)
	es=$(eoseq "$spo")
	kill -TERM $DAEMON
	for _ in $(seq 100); do kill -0 $DAEMON 2>/dev/null || break; sleep 0.1; done
	if kill -0 $DAEMON 2>/dev/null; then fail "$n-daemon-sigterm" "still running 10 s after SIGTERM"
	else
		wait $DAEMON; rc=$?
		DAEMON=""
		dx=$(ip netns exec $R sysctl -n net.ipv4.conf.swr.disable_xfrm)
		((rc == 0)) && [[ $dx == 0 ]] && pass "$n-daemon-sigterm" ||
			fail "$n-daemon-sigterm" "exit $rc, disable_xfrm=$dx after it (want 0 0)"
		after=$(spis $R | xargs) ks=$(koseq "$spo")
		[[ $after == "$before" ]] && pass "$n-sas-stay-after-daemon" ||
			fail "$n-sas-stay-after-daemon" "before SIGTERM: $before, after: $after"
		if [[ -n $es && -n $ks ]] && ((es > 0 && ks >= es)); then
			pass "$n-seq-handed-back ($spo: espx oseq $es, kernel $ks)"
		else fail "$n-seq-handed-back" "$spo: espx oseq '$es' before SIGTERM, kernel oseq '$ks' after"; fi
		# (R may rekey during this: the kernel's counters go on from espx's)
		ping_check "$n-kernel-takes-over-ping" $L $IL $IR 10 0
	fi
	# f0: scenario's count of FAIL lines when it began (it calls this)
	((_nfailed > f0)) && { note "daemon log:"; excerpt 30 "$T/daemon.log"; }
}

ALL=(kernel-aes128 kernel-aes256 espx-aes128 espx-aes256)
(($#)) && ALL=("$@")
for s in "${ALL[@]}"; do
	case $s in
	kernel-aes128) scenario "strongswan-$s" kernel aes128gcm16 128 R ;;
	kernel-aes256) scenario "strongswan-$s" kernel aes256gcm16 256 L ;;
	espx-aes128) scenario "strongswan-$s" espx aes128gcm16 128 R ;;
	espx-aes256) scenario "strongswan-$s" espx aes256gcm16 256 L late ;;
	*) fail "strongswan-$s" "unknown scenario" ;;
	esac
done
exit $_failed
