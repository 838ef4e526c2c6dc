#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# libreswan (Debian 12's package: IKEv2, PSK) beside espx, run inside the 6.12 VM
# (scripts/vmtest.sh; the host kernel has no ESP). The namespaces and addresses of
# tests/vm/swan.sh: lsL (10.0.0.1, LAN 192.168.1.0/24 on lo) and lsR (10.0.0.2, LAN
# 192.168.2.0/24), tunnel mode between the LANs, AES-GCM-16-128 as libreswan proposes it
# (with ESN). One pluto per namespace, each with its own configuration, NSS database,
# secrets, control socket and log in a temp dir; pluto runs from the package unpacked by
# scripts/vm/fetch-libreswan.sh (ESPX_LIBRESWAN_ROOT), whose usr/libexec is bind-mounted
# on /usr/libexec in the mount namespace `ip netns exec` gives it (pluto looks for its
# helpers there). L initiates; the CHILD_SA is rekeyed twice with `whack --rekey-ipsec`
# while pings run. Two scenarios: kernel (both sides' ESP in the kernel: the baseline,
# and what losses libreswan's rekeys cost there) and espx (R runs `espx daemon dev lsr`
# from before pluto starts, so espx carries every SA libreswan installs on R).
# Checks: tunnel up with the proposed AEAD; pings and TCP both ways (sha256); each rekey
# gives new SPIs and removes the old ones; no ping lost but those L's kernel drops while
# libreswan swaps its outbound SA (XfrmAcquireError); only
# ESP and IKE on the wire; no ERROR in pluto's logs. espx also: it carries both SAs (none
# left to the kernel), counted the packets and pushed the counts to the kernel, follows
# each rekey (the old SAs gone from espx too) with no outbound packet without an SA (no
# gap), and after the daemon's SIGTERM the kernel carries on with the same SAs.
# Usage: tests/vm/libreswan.sh. Prints PASS/FAIL/SKIP lines; exits 1 if anything failed.
# Env: ESPX_LIBRESWAN_ROOT (required), ESPX_VM_XFER_BYTES (TCP transfer, default 131072),
# ESPX_BIN (an espx binary other than build/espx).
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/vm/lib.sh
. tests/vm/swan.sh
ESPX=${ESPX_BIN:-$PWD/build/espx}
LSW=${ESPX_LIBRESWAN_ROOT:-}
SIZE=${ESPX_VM_XFER_BYTES:-131072}
L=lsL R=lsR
PSK=espx-libreswan-test-psk
N=lsw

modprobe -a esp4 xfrm_user veth 2>/dev/null
[[ -x $ESPX ]] || { fail $N "no $ESPX (run make first)"; exit 1; }
if [[ -z $LSW || ! -x $LSW/usr/libexec/ipsec/pluto ]]; then
	fail $N "no libreswan tree in ESPX_LIBRESWAN_ROOT='$LSW' (scripts/vm/fetch-libreswan.sh)"
	exit 1
fi
T=$(mktemp -d /tmp/lsw.XXXXXX)
DATA=$T/data
head -c "$SIZE" /dev/urandom >"$DATA"
WANT="$SIZE $(sha256sum "$DATA" | cut -d' ' -f1)"
BG=() DAEMON=""

# whack SIDE ARGS...: pluto's control program against SIDE's pluto (at most 120 s)
whack() {
	timeout 120 ip netns exec "$1" "$LSW/usr/libexec/ipsec/whack" --ctlsocket "$T/$1/run/pluto.ctl" "${@:2}"
}

pluto_stop() {
	local s
	for s in $L $R; do
		[[ -f $T/$s/pluto.pid ]] || continue
		stop_or_kill "$(<"$T/$s/pluto.pid")"
		rm -f "$T/$s/pluto.pid"
	done
}
cleanup() {
	local p
	pluto_stop
	if [[ -n $DAEMON ]]; then
		stop_or_kill "$DAEMON" || fail $N-daemon-exit "still running 5 s after SIGTERM, killed"
		DAEMON=""
	fi
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	BG=()
	timeout 10 ip netns exec $R "$ESPX" unload >/dev/null 2>&1
	ip netns del $L 2>/dev/null
	ip netns del $R 2>/dev/null
}
trap 'cleanup; rm -rf "$T"' EXIT

# pluto_conf SIDE: ipsec.conf, secrets and an empty NSS database for SIDE in $T/SIDE
pluto_conf() {
	local s=$1 d=$T/$1 me peer lnet rnet
	if [[ $s == "$L" ]]; then me=$WL peer=$WR lnet=$NL rnet=$NR
	else me=$WR peer=$WL lnet=$NR rnet=$NL; fi
	mkdir -p "$d/run" "$d/nss"
	certutil -N -d "sql:$d/nss" --empty-password || return 1
	# leftupdown: the routes exist (swan_topology); pluto's _updown would add its own
	# (ipsec.conf wants its keys indented; a here-document with <<- would strip that)
	printf '%s\n' "config setup" "	logfile=$d/pluto.log" "	logappend=no" "	plutodebug=none" \
		"conn ls" "	ikev2=insist" "	authby=secret" "	left=$me" "	leftsubnet=$lnet" \
		"	leftupdown=/bin/true" "	right=$peer" "	rightsubnet=$rnet" \
		"	ike=aes_gcm128-sha2_256;dh19" "	esp=aes_gcm128-null" "	auto=add" >"$d/ipsec.conf"
	echo "$WL $WR : PSK \"$PSK\"" >"$d/ipsec.secrets"
}

# pluto_start SIDE: pluto in SIDE's namespace, in the foreground (its pid kept); wait for
# its control socket, then load the connection
pluto_start() {
	local s=$1 d=$T/$1
	ip netns exec "$s" bash -c 'mount --bind "$1" /usr/libexec && echo $$ >"$2/pluto.pid" &&
		exec /usr/libexec/ipsec/pluto --nofork --config "$2/ipsec.conf" --rundir "$2/run" \
			--dumpdir "$2/run" --nssdir "$2/nss" --secretsfile "$2/ipsec.secrets" \
			--ipsecdir "$2" --nhelpers 1' _ "$LSW/usr/libexec" "$d" >"$d/pluto.out" 2>&1 &
	for _ in $(seq 300); do [[ -S $d/run/pluto.ctl ]] && break; sleep 0.1; done
	[[ -S $d/run/pluto.ctl ]] || return 1
	ip netns exec "$s" "$LSW/usr/libexec/ipsec/addconn" --config "$d/ipsec.conf" \
		--ctlsocket "$d/run/pluto.ctl" --autoall >"$d/addconn.out" 2>&1
}

# R's inbound SA (into 10.0.0.2): its SPI
in_spi() { ip -n $R xfrm state | awk -v d=$WR '$1 == "src" && $4 == d {getline; print $4; exit}'; }
# carried NS: the SPIs espx carries in NS (listed with their sequence numbers), sorted
carried() {
	ip netns exec "$1" "$ESPX" -j state list 2>/dev/null | $PY -c '
import json, sys
print(" ".join(sorted("0x%08x" % s["spi"] for s in json.load(sys.stdin) if "oseq" in s)))'
}
# mirrored WANT: up to 10 s for espx's carried SPIs on R to be exactly WANT (sorted, spaced)
mirrored() {
	for _ in $(seq 50); do [[ $(carried $R) == "$1" ]] && return 0; sleep 0.2; done
	return 1
}

# xstat NS: the kernel's non-zero XFRM error counters in NS
xstat() { ip netns exec "$1" awk '$2 != 0 {printf "%s=%s ", $1, $2}' /proc/net/xfrm_stat; }

# scenario MODE: kernel (both sides' ESP in the kernel: the baseline) or espx (`espx
# daemon dev lsr` on R from before pluto starts)
scenario() {
	local mode=$1 n=$N-$1 t0=$SECONDS s dev out st pair si e k r old new both rx pp gap acq
	local lost=0 errs
	rm -rf "${T:?}/$L" "${T:?}/$R"
	swan_topology lsl lsr || { fail $n-setup "ip netns add"; return; }
	for s in $L $R; do pluto_conf $s || { fail $n-setup "certutil -N for $s"; cleanup; return; }; done
	if [[ $mode == espx ]]; then
		ip netns exec $R "$ESPX" daemon --interval 250 dev lsr >"$T/daemon.log" 2>&1 &
		DAEMON=$!
		if daemon_ready "$T/daemon.log" $DAEMON; then pass $n-daemon-ready
		else
			fail $n-daemon-ready "no 'ready' line within 30 s"; excerpt 20 "$T/daemon.log"
			cleanup; return
		fi
	fi
	for s in $L $R; do
		if ! pluto_start $s; then
			fail $n-pluto-$s "pluto did not start or addconn failed"
			excerpt 10 "$T/$s/pluto.out"; excerpt 10 "$T/$s/addconn.out"; excerpt 20 "$T/$s/pluto.log"
			cleanup; return
		fi
	done
	wire_start lsl lsr

	# the tunnel
	out=$(whack $L --name ls --initiate 2>&1)
	if grep -q 'established Child SA' <<<"$out"; then pass $n-ike-up
	else
		fail $n-ike-up "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
		excerpt 20 "$T/$L/pluto.log"; excerpt 20 "$T/$R/pluto.log"
		[[ $mode == espx ]] && excerpt 20 "$T/daemon.log"
		cleanup; return
	fi
	st=$(ip -n $R xfrm state)
	if [[ $(grep -c 'aead rfc4106(gcm(aes)) 0x[0-9a-f]\{40\} 128' <<<"$st") == 2 ]]; then
		pass "$n-sa-aes128gcm16 ($(grep -c 'flag.*esn' <<<"$st") of 2 with ESN)"
	else fail $n-sa-aes128gcm16 "$(grep -E 'spi|aead' <<<"$st" | tr -s '\n\t ' ' ' | cut -c1-300)"; fi
	pair=$(spis $R | xargs)
	if [[ $mode == espx ]]; then
		if mirrored "$pair"; then pass "$n-espx-carries-both ($pair)"
		else
			fail $n-espx-carries-both "kernel: $pair, espx carries: '$(carried $R)'"
			ip netns exec $R "$ESPX" state list 2>&1 | grep -i 'left to the kernel' | sed 's/^/# /'
		fi
	fi

	# traffic, and two rekeys under it
	ping_check $n-ping-L-to-R $L $IL $IR 100 2
	lost=$LOST
	xfer $n-tcp-L-to-R $R $IR $L $IL 7001 60
	xfer $n-tcp-R-to-L $L $IL $R $IR 7002 60
	if [[ $mode == espx ]]; then
		si=$(in_spi)
		e=$(espx_packets $R "$si")
		if [[ -n $e ]] && ((e >= 100)); then pass "$n-espx-counted-in ($si: $e packets)"
		else fail $n-espx-counted-in "$si: '$e' packets in espx, want >= 100"; fi
	fi
	for r in 1 2; do
		old=$(spis $R | xargs)
		# pings through the rekey: 300 at 10 ms
		ip netns exec $L ping -q -c 300 -i 0.01 -W 2 -I $IL $IR >"$T/ping-rekey$r" 2>&1 &
		pp=$!
		sleep 1
		out=$(whack $L --name ls --rekey-ipsec 2>&1)
		wait $pp
		rx=$(grep -o '[0-9]* received' "$T/ping-rekey$r" | cut -d' ' -f1)
		lost=$((lost + 300 - ${rx:-0}))
		new=""
		for _ in $(seq 50); do
			new=$(spis $R | xargs)
			[[ $(wc -w <<<"$new") == 2 && $new != "$old" ]] && break
			sleep 0.2
		done
		both=$(tr ' ' '\n' <<<"$old $new" | sort | uniq -d | xargs)
		if [[ $(wc -w <<<"$new") == 2 && -z $both ]]; then pass "$n-rekey$r ($old -> $new)"
		else
			fail $n-rekey$r "R's SAs before: $old, after: $new; whack: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
			excerpt 15 "$T/$L/pluto.log"
		fi
		if [[ $mode == espx ]]; then
			if mirrored "$new"; then pass "$n-rekey$r-mirrored (old gone from espx)"
			else fail $n-rekey$r-mirrored "kernel: $new, espx carries: '$(carried $R)'"; fi
		fi
		note "$n: rekey $r: ${rx:-0}/300 pings; kernel XFRM errors so far: L: $(xstat $L) R: $(xstat $R)"
	done
	if [[ $mode == espx ]]; then
		note "$n: espx's drops on R: $(ip netns exec $R "$ESPX" -j stats 2>/dev/null | $PY -c '
import json, sys
for d, rs in json.load(sys.stdin).get("drops", {}).items():
    for r, c in rs.items():
        if c.get("packets"):
            print("%s/%s=%d" % (d, r, c["packets"]), end=" ")')"
		gap=$(espx_drops $R out policy-without-sa)
		if [[ $gap == 0 ]]; then pass $n-no-gap-at-rekey
		else fail $n-no-gap-at-rekey "espx dropped $gap outbound packets as policy-without-sa"; fi
	fi
	# Losses: when libreswan swaps L's outbound SA, L's kernel drops a few packets for
	# want of one (XfrmAcquireError: 2 to 10 per rekey under TCG, with the kernel's ESP on
	# R as with espx). Every lost ping must be one of those: anything else was lost
	# between L's policy and R, where espx is.
	acq=$(ip netns exec $L awk '$1 == "XfrmAcquireError" {print $2}' /proc/net/xfrm_stat)
	if ((lost <= ${acq:-0} + 1)); then
		pass "$n-loss-only-libreswans-gap ($lost pings lost, $acq packets L's kernel found no SA for)"
	else fail $n-loss-only-libreswans-gap "$lost pings lost, L's kernel dropped ${acq:-0} for want of an SA; kernel XFRM errors: L: $(xstat $L) R: $(xstat $R)"; fi

	# the current inbound SA of R after traffic on it: espx's count pushed to the kernel
	ping_check $n-ping-after-rekeys $L $IL $IR 20 0
	if [[ $mode == espx ]]; then
		si=$(in_spi)
		for _ in $(seq 20); do
			k=$(kcount $R $WL $WR "$si") e=$(espx_packets $R "$si")
			[[ -n $k && $k == "$e" ]] && break
			sleep 0.5
		done
		if [[ -n $e && $e == "$k" ]] && ((e >= 20)); then pass "$n-counts-pushed ($si: $e packets)"
		else fail $n-counts-pushed "$si: espx '$e', kernel '$k' packets"; fi
	fi

	wire_stop
	wire_check $n 1000

	if [[ $mode == espx ]]; then
		# the daemon's SIGTERM hands the SAs back: the kernel carries on with them
		pair=$(spis $R | xargs)
		stop_or_kill "$DAEMON" && pass $n-daemon-sigterm || fail $n-daemon-sigterm "killed after 5 s"
		DAEMON=""
		ping_check $n-kernel-after-daemon $L $IL $IR 20 0
		if [[ $(spis $R | xargs) == "$pair" ]]; then pass "$n-kernel-same-sas ($pair)"
		else fail $n-kernel-same-sas "before: $pair, now: $(spis $R | xargs)"; fi
	fi
	errs=$(grep -h -E 'ERROR|FATAL' "$T/$L/pluto.log" "$T/$R/pluto.log" | head -n 3)
	if [[ -z $errs ]]; then pass $n-pluto-no-errors
	else fail $n-pluto-no-errors "$(tr '\n' ' ' <<<"$errs" | cut -c1-300)"; fi
	note "$n: $((SECONDS - t0))s"
	cleanup
}

scenario kernel
scenario espx
exit $_failed
