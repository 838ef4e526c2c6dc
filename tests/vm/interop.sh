#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Kernel XFRM <-> espx interoperability, run inside the 6.12 VM (scripts/vmtest.sh; the host
# kernel has no ESP). Per scenario: namespace K configures kernel XFRM with `ip xfrm`,
# namespace E configures espx with the same lines through `espx state/policy add`, a veth
# between them; ping both ways, a TCP transfer each way with a sha256 check, and the
# kernel's per-SA packet counters (ip -s xfrm state) against espx's (espx -j stats).
# Usage: tests/vm/interop.sh [SCENARIO...]   (default: all)
# Env: ESPX_VM_XFER_BYTES (transfer size), ESPX_VM_SA_EXTRA (words added to espx's SAs).
# Prints PASS/FAIL/SKIP lines; exits 1 if anything failed.
set -u
cd "$(dirname "$0")/../.." || exit 1
. tests/vm/lib.sh
ESPX=$PWD/build/espx
AEAD="rfc4106(gcm(aes))"
SPI_KE=0x1001 SPI_EK=0x1002	# K->E, E->K
SIZE=${ESPX_VM_XFER_BYTES:-1048576}
K=vmK E=vmE

modprobe -a esp4 esp6 xfrm_user veth 2>/dev/null
[[ -x $ESPX ]] || { fail vm-interop "no $ESPX (run make first)"; exit 1; }
DATA=$(mktemp /tmp/xfer.XXXXXX)
head -c "$SIZE" /dev/urandom >"$DATA"
WANT="$SIZE $(sha256sum "$DATA" | cut -d' ' -f1)"
BG=()

cleanup() {
	local p
	for p in "${BG[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	BG=()
	ip netns exec $E "$ESPX" unload >/dev/null 2>&1
	ip netns del $K 2>/dev/null
	ip netns del $E 2>/dev/null
	rm -f /tmp/natt-$K.out
}
trap 'cleanup; rm -f "$DATA"' EXIT

# key BITS SEED: hex key+salt (BITS/8 + 4 bytes)
key() { hexkey $(($1 / 8 + 4)); }

# scenario NAME FAM MODE BITS ESN ENCAP
scenario() {
	local n=$1 fam=$2 mode=$3 bits=$4 esn=$5 encap=$6
	local wk we plen ik ie nk ne host nodad="" extra="" kab kba pcount=3 t0=$SECONDS
	if ((fam == 6)); then
		wk=fd00::1 we=fd00::2 plen=64 nodad=nodad host=/128
		ik=fd01::1 ie=fd02::1 nk=fd01::/64 ne=fd02::/64
	else
		wk=10.0.0.1 we=10.0.0.2 plen=24 host=/32
		ik=192.168.1.1 ie=192.168.2.1 nk=192.168.1.0/24 ne=192.168.2.0/24
	fi
	if [[ $mode == transport ]]; then ik=$wk ie=$we nk=$wk$host ne=$we$host; fi
	ip netns add $K && ip netns add $E || { fail "$n-setup" "ip netns add"; return; }
	ip -n $K link set lo up; ip -n $E link set lo up
	ip link add wk netns $K type veth peer name we netns $E
	ip -n $K addr add $wk/$plen dev wk $nodad
	ip -n $E addr add $we/$plen dev we $nodad
	ip -n $K link set wk up; ip -n $E link set we up
	LD0=$(linkdrops)
	if [[ $mode == tunnel ]]; then
		ip -n $K addr add $ik$host dev lo; ip -n $E addr add $ie$host dev lo
		ip -n $K route add $ne via $we src $ik; ip -n $E route add $nk via $wk src $ie
	fi
	if [[ $encap == 1 ]]; then
		extra+=" encap espinudp 4500 4500 0.0.0.0"
		ip netns exec $K $PY tests/vm/natt_sock.py "$fam" 4500 >/tmp/natt-$K.out 2>&1 &
		BG+=($!)
		# the kernel decapsulates only once the socket has UDP_ENCAP set:
		# natt_sock.py says "ready" after setting it (python starts slowly
		# under TCG)
		for _ in $(seq 300); do grep -qs '^ready$' /tmp/natt-$K.out && break; sleep 0.1; done
		if ! grep -qs '^ready$' /tmp/natt-$K.out; then
			fail "$n-natt-socket" "natt_sock.py not ready in 30 s: $(head -c 300 /tmp/natt-$K.out)"
			cleanup; return
		fi
	fi
	[[ $esn == 1 ]] && { extra+=" flag esn replay-seq 0xffffffe0 replay-oseq 0xffffffe0"; pcount=40; }
	kab=$(key "$bits") kba=$(key "$bits")
	local sa_ke="src $wk dst $we proto esp spi $SPI_KE reqid 1 mode $mode replay-window 128 aead $AEAD 0x$kab 128$extra"
	local sa_ek="src $we dst $wk proto esp spi $SPI_EK reqid 2 mode $mode replay-window 128 aead $AEAD 0x$kba 128$extra"
	[[ $mode == tunnel ]] && { sa_ke+=" sel src $nk dst $ne"; sa_ek+=" sel src $ne dst $nk"; }
	local pk_out="src $nk dst $ne dir out tmpl src $wk dst $we proto esp reqid 1 mode $mode"
	local pk_in="src $ne dst $nk dir in tmpl src $we dst $wk proto esp reqid 2 mode $mode"
	local pe_out="src $ne dst $nk dir out tmpl src $we dst $wk proto esp reqid 2 mode $mode"
	local pe_in="src $nk dst $ne dir in tmpl src $wk dst $we proto esp reqid 1 mode $mode"
	local err
	# shellcheck disable=SC2086
	if ! err=$( { ip -n $K xfrm state add $sa_ke && ip -n $K xfrm state add $sa_ek &&
		ip -n $K xfrm policy add $pk_out && ip -n $K xfrm policy add $pk_in; } 2>&1); then
		fail "$n-kernel-config" "$err"; cleanup; return
	fi
	# ESPX_VM_SA_EXTRA: more words for espx's SAs only (tests/vm/aead.sh: backend aead)
	local ex=${ESPX_VM_SA_EXTRA:+ $ESPX_VM_SA_EXTRA}
	# shellcheck disable=SC2086
	if ! err=$( { ip netns exec $E "$ESPX" attach we && ip netns exec $E "$ESPX" state add $sa_ke$ex &&
		ip netns exec $E "$ESPX" state add $sa_ek$ex && ip netns exec $E "$ESPX" policy add $pe_out &&
		ip netns exec $E "$ESPX" policy add $pe_in; } 2>&1); then
		fail "$n-espx-config" "$err"; cleanup; return
	fi
	sleep 0.2
	# the wire = what each side transmits (receive taps see packets after XDP decrypted them)
	local out cpids=() plain=0 nesp=0 f ns dev
	for ns in $K $E; do
		dev=wk; [[ $ns == "$E" ]] && dev=we
		ip netns exec $ns tcpdump -i $dev -Q out -U -nn -w /tmp/wire-$ns.pcap 2>/tmp/tcpdump-$ns.err &
		cpids+=($!)
		# TCG under load: tcpdump may take seconds to start listening
		for _ in $(seq 300); do grep -qs listening /tmp/tcpdump-$ns.err && break; sleep 0.1; done
	done
	out=$(ip netns exec $K ping -c $pcount -i 0.05 -W 3 -I $ik $ie 2>&1) &&
		pass "$n-ping-kernel-to-espx" || fail "$n-ping-kernel-to-espx" "$(tail -n 2 <<<"$out" | tr '\n' ' ')"
	out=$(ip netns exec $E ping -c 3 -i 0.05 -W 3 -I $ie $ik 2>&1) &&
		pass "$n-ping-espx-to-kernel" || fail "$n-ping-espx-to-kernel" "$(tail -n 2 <<<"$out" | tr '\n' ' ')"
	# until both captures hold the pings' ESP (12 packets), at most 10 s:
	# SIGINT ends tcpdump without reading what is still in its ring
	for _ in $(seq 100); do
		nesp=0
		for f in /tmp/wire-$K.pcap /tmp/wire-$E.pcap; do
			nesp=$((nesp + $(tcpdump -r $f -nn 'esp or udp port 4500' 2>/dev/null | wc -l)))
		done
		((nesp >= 2 * (pcount + 3))) && break
		sleep 0.1
	done
	for f in "${cpids[@]}"; do kill -INT $f; wait $f 2>/dev/null; done
	# on the wire only ESP (or ESP in UDP 4500), ARP and IPv6 neighbour/router discovery
	local flt='(ip or ip6) and not esp and not udp port 4500 and not (icmp6 and ip6[40] >= 133 and ip6[40] <= 137)'
	nesp=0
	for f in /tmp/wire-$K.pcap /tmp/wire-$E.pcap; do
		plain=$((plain + $(tcpdump -r $f -nn "$flt" 2>/dev/null | wc -l)))
		nesp=$((nesp + $(tcpdump -r $f -nn 'esp or udp port 4500' 2>/dev/null | wc -l)))
	done
	if ((plain == 0 && nesp >= 6)); then pass "$n-wire-only-esp ($nesp ESP packets)"
	else fail "$n-wire-only-esp" "$plain plaintext IP packets, $nesp ESP: $(tcpdump -r /tmp/wire-$K.pcap -nn "$flt" 2>/dev/null | head -n 2 | tr '\n' ' ') $(tcpdump -r /tmp/wire-$E.pcap -nn "$flt" 2>/dev/null | head -n 2 | tr '\n' ' ')"; fi
	rm -f /tmp/wire-$K.pcap /tmp/wire-$E.pcap
	xfer "$n-tcp-kernel-to-espx" $E $ie $K $ik 7001
	xfer "$n-tcp-espx-to-kernel" $K $ik $E $ie 7002
	counters "$n" "$wk" "$we"
	[[ $esn == 1 ]] && esn_check "$n" "$wk" "$we"
	echo "# $n: $((SECONDS - t0))s"
	cleanup
}

# kernel SA packet count: ip -s xfrm state get ... -> "lifetime current:" next line "B(bytes), P(packets)"
kcount() {
	ip -n $K -s xfrm state get src "$1" dst "$2" proto esp spi "$3" 2>/dev/null |
		awk '/lifetime current:/{getline; sub(/\(packets\)/, "", $2); print $2; exit}'
}
ecount() { espx_packets $E "$1"; }
# packets the links dropped: rx/tx dropped of both veth ends plus the backlog drops of
# /proc/net/softnet_stat (column 2, hex, per CPU). Under TCG on a loaded host a TCP burst can
# overrun a backlog; such a loss is the link's, not ESP's, and the kernel counts it.
linkdrops() {
	local n=0 v
	for v in $(ip -n $K -s -j link show dev wk 2>/dev/null | $PY -c '
import json, sys
s = json.load(sys.stdin)[0]["stats64"]; print(s["rx"]["dropped"], s["tx"]["dropped"])') \
		$(ip -n $E -s -j link show dev we 2>/dev/null | $PY -c '
import json, sys
s = json.load(sys.stdin)[0]["stats64"]; print(s["rx"]["dropped"], s["tx"]["dropped"])') \
		$(awk '{print $2}' /proc/net/softnet_stat); do
		[[ $v =~ ^[0-9]+$ ]] && ((n += v)) || ((n += 0x$v))
	done
	echo $((n - ${LD0:-0}))
}
# packets espx sealed and then dropped as checksum-collision in this scenario's namespace (one
# CHECKSUM_PARTIAL packet in 65536 by design, docs/architecture.md): the SA counted them, as
# the kernel counts what it transformed, and its number is used, but they never leave
collisions() {
	ip netns exec $E "$ESPX" -j stats 2>/dev/null | $PY -c '
import json, sys
print(json.load(sys.stdin).get("drops", {}).get("out", {}).get("checksum-collision", {}).get("packets", 0))' 2>/dev/null || echo 0
}
# same SENT RECEIVED LINKDROPS: the receiver's SA counted every packet the sender's did, or
# fewer by no more than the links dropped (the drop counters are checked, not assumed)
same() {
	[[ -n $1 && -n $2 && $1 -gt 0 ]] || return 1
	((10#$2 == 10#$1 || (10#$2 < 10#$1 && 10#$1 - 10#$2 <= $3)))
}
# counters NAME WK WE: per SA, the sender's packet count must equal the receiver's. Read
# until both sides agree (the last segments of a transfer may still be in flight, up to 9 s
# under TCG on a loaded host).
counters() {
	local n=$1 wk=$2 we=$3 k e ld cc _i lost
	for _i in $(seq 30); do
		k=$(kcount "$wk" "$we" $SPI_KE) e=$(ecount $SPI_KE)
		[[ -n $k && $k == "$e" ]] && break
		sleep 0.3
	done
	ld=$(linkdrops) lost=""
	[[ -n $k && -n $e && $e != "$k" ]] && lost=", $((k - e)) lost with $ld link drops"
	if same "$k" "$e" "$ld"; then pass "$n-counters-kernel-out-eq-espx-in ($k packets$lost)"
	else fail "$n-counters-kernel-out-eq-espx-in" "kernel $SPI_KE out: '${k}' packets, espx in: '${e}', link drops $ld; $(drops)"; fi
	for _i in $(seq 30); do
		k=$(kcount "$we" "$wk" $SPI_EK) e=$(ecount $SPI_EK)
		[[ -n $k && $k == "$e" ]] && break
		sleep 0.3
	done
	ld=$(linkdrops) cc=$(collisions) lost=""
	[[ -n $k && -n $e && $e != "$k" ]] && lost=", $((e - k)) lost with $ld link drops and $cc checksum collisions"
	if same "$e" "$k" "$((ld + cc))"; then pass "$n-counters-espx-out-eq-kernel-in ($e packets$lost)"
	else fail "$n-counters-espx-out-eq-kernel-in" "espx $SPI_EK out: '${e}' packets, kernel in: '${k}', link drops $ld, checksum collisions $cc; $(drops)"; fi
}
# what either side dropped: kernel /proc/net/xfrm_stat and IP input errors (non-zero), espx
# drop reasons (non-zero)
drops() {
	echo -n "kernel xfrm_stat: $(ip netns exec $K awk '$2 != 0 {printf "%s=%s ", $1, $2}' /proc/net/xfrm_stat)"
	# a packet lost before XFRM (a bad header or checksum) shows here, not above
	echo -n "kernel ip: $(ip netns exec $K nstat -az 2>/dev/null | awk '$2 != 0 && $1 ~ /(InHdrErrors|InCsumErrors|InDiscards|InAddrErrors|InNoRoutes|InTruncatedPkts)$/ {printf "%s=%s ", $1, $2}') "
	echo -n "espx drops: $(ip netns exec $E "$ESPX" -j stats 2>/dev/null | $PY -c '
import json, sys
j = json.load(sys.stdin)
def walk(d, path):
    if isinstance(d, dict):
        if "packets" in d and path and "sas" not in path:
            if d["packets"]:
                print("%s=%s" % (path, d["packets"]), end=" ")
            return
        for k, v in d.items():
            walk(v, f"{path}.{k}" if path else k)
walk(j.get("drops", {}), "")' 2>&1)"
}

# ESN: both directions started at 2^32 - 32; the kernel's high halves must now be 1
esn_check() {
	local n=$1 st
	st=$(ip -n $K -s xfrm state get src "$2" dst "$3" proto esp spi $SPI_KE 2>&1)
	if grep -q 'oseq-hi 0x1,' <<<"$st"; then pass "$n-kernel-tx-crossed-2^32"
	else fail "$n-kernel-tx-crossed-2^32" "$(grep -A1 'esn context' <<<"$st" | tr -s '\n\t ' ' ')"; fi
	st=$(ip -n $K -s xfrm state get src "$3" dst "$2" proto esp spi $SPI_EK 2>&1)
	if grep -q 'seq-hi 0x1,' <<<"$(grep -A1 'esn context' <<<"$st" | sed 's/oseq-hi[^,]*,//')"; then
		pass "$n-kernel-rx-crossed-2^32"
	else fail "$n-kernel-rx-crossed-2^32" "$(grep -A1 'esn context' <<<"$st" | tr -s '\n\t ' ' ')"; fi
}

ALL=(v4-tunnel-aes128 v4-transport-aes128 v6-tunnel-aes128 v6-transport-aes128 v4-tunnel-aes256
	v4-tunnel-esn v4-tunnel-natt)
(($#)) && ALL=("$@")
for s in "${ALL[@]}"; do
	case $s in
	v4-tunnel-aes128) scenario "$s" 4 tunnel 128 0 0 ;;
	v4-transport-aes128) scenario "$s" 4 transport 128 0 0 ;;
	v6-tunnel-aes128) scenario "$s" 6 tunnel 128 0 0 ;;
	v6-transport-aes128) scenario "$s" 6 transport 128 0 0 ;;
	v4-tunnel-aes256) scenario "$s" 4 tunnel 256 0 0 ;;
	v4-tunnel-esn) scenario "$s" 4 tunnel 128 1 0 ;;
	v4-tunnel-natt) scenario "$s" 4 tunnel 128 0 1 ;;
	*) fail "$s" "unknown scenario" ;;
	esac
done
exit $_failed
